// RUN: moe-opt %s --moe-check-allocations | FileCheck %s

// Every allocation of the entry is followed by a check that it succeeded,
// naming the byte count, the type and where the buffer comes from.

// CHECK-LABEL: func.func @f
func.func @f(%out: memref<4xf32>) {
  // CHECK: %[[BUF:.+]] = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
  // CHECK-NEXT: %[[P:.+]] = memref.extract_aligned_pointer_as_index %[[BUF]] : memref<8x416x768xf32> -> index
  // CHECK-NEXT: %[[ZERO:.+]] = arith.constant 0 : index
  // CHECK-NEXT: %[[NULL:.+]] = arith.cmpi eq, %[[P]], %[[ZERO]] : index
  // CHECK-NEXT: moe.check %[[NULL]], "out of memory: cannot allocate 10223616 bytes (memref<8x416x768xf32>) for the op at {{.*}}moe-check-allocations.mlir:[[@LINE+1]]:10"
  %buf = memref.alloc() {alignment = 64 : i64} : memref<8x416x768xf32>
  // An index buffer counts 8 bytes an element.
  // CHECK: moe.check %{{.+}}, "out of memory: cannot allocate 32 bytes (memref<4xindex>)
  %idx = memref.alloc() : memref<4xindex>
  // A dynamic size is reported without a byte count.
  // CHECK: moe.check %{{.+}}, "out of memory: cannot allocate (memref<?xf32>)
  %c = arith.constant 5 : index
  %dyn = memref.alloc(%c) : memref<?xf32>
  // Stack allocations are not checked.
  // CHECK: memref.alloca
  // CHECK-NOT: moe.check
  %stack = memref.alloca() : memref<4xf32>
  memref.dealloc %buf : memref<8x416x768xf32>
  memref.dealloc %idx : memref<4xindex>
  memref.dealloc %dyn : memref<?xf32>
  return
}
