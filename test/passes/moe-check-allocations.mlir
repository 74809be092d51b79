// RUN: moe-opt %s --moe-check-allocations | FileCheck %s

// Every allocation of the entry is followed by a check that it succeeded,
// naming the byte count, the type and where the buffer comes from.

// CHECK-LABEL: func.func @f
func.func @f(%out: memref<4xf32>) {
  // CHECK: %[[BUF:.+]] = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
  // CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0 : index
  // CHECK-NEXT: %[[P:.+]] = memref.extract_aligned_pointer_as_index %[[BUF]] : memref<8x416x768xf32> -> index
  // CHECK-NEXT: %[[NULL:.+]] = arith.cmpi eq, %[[P]], %[[ZERO]] : index
  // CHECK-NEXT: moe.check %[[NULL]], "out of memory: cannot allocate 10223616 bytes (memref<8x416x768xf32>) for the op at {{.*}}moe-check-allocations.mlir:[[@LINE+1]]:10"
  %buf = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
  // An index buffer counts 8 bytes an element.
  // CHECK: moe.check %{{.+}}, "out of memory: cannot allocate 32 bytes (memref<4xindex>)
  %idx = memref.alloc() : memref<4xindex>
  // A dynamic size is reported without a byte count; a null pointer is a
  // failure only when the size is not 0.
  // CHECK: %[[DYN:.+]] = memref.alloc(%[[N:.+]]) : memref<?xf32>
  // CHECK: %[[DNULL:.+]] = arith.cmpi eq, %{{.+}}, %{{.+}} : index
  // CHECK: %[[NONEMPTY:.+]] = arith.cmpi ne, %[[N]], %{{.+}} : index
  // CHECK: %[[DFAILED:.+]] = arith.andi %[[DNULL]], %[[NONEMPTY]] : i1
  // CHECK: moe.check %[[DFAILED]], "out of memory: cannot allocate (memref<?xf32>)
  %c = arith.constant 5 : index
  %dyn = memref.alloc(%c) : memref<?xf32>
  // An empty buffer is not checked (malloc(0) may return null).
  // CHECK: memref.alloc() : memref<0x4xf32>
  // CHECK-NEXT: memref.alloca
  %empty = memref.alloc() : memref<0x4xf32>
  // Stack allocations are not checked.
  // CHECK-NOT: moe.check
  %stack = memref.alloca() : memref<4xf32>
  memref.dealloc %buf : memref<8x416x768xf32>
  memref.dealloc %idx : memref<4xindex>
  memref.dealloc %dyn : memref<?xf32>
  memref.dealloc %empty : memref<0x4xf32>
  return
}
