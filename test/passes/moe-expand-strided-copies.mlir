// RUN: moe-opt %s --moe-expand-strided-copies | FileCheck %s

// A copy into a strided view becomes linalg.copy (loops later); copies of
// contiguous buffers stay memref.copy (an llvm.memcpy later).
// CHECK-LABEL: func.func @copies
// CHECK-SAME: (%[[A:[^:]*]]: memref<1x8xf32>, %[[B:[^:]*]]: memref<1x8xf32>, %[[V:[^:]*]]: memref<1x8xf32, strided<[16, 2], offset: ?>>, %[[S:[^:]*]]: memref<2x8xf32, strided<[8, 1], offset: 4>>
// CHECK: linalg.copy ins(%[[A]] : memref<1x8xf32>) outs(%[[V]] : memref<1x8xf32, strided<[16, 2], offset: ?>>)
// CHECK: linalg.copy ins(%[[V]] : memref<1x8xf32, strided<[16, 2], offset: ?>>) outs(%[[B]] : memref<1x8xf32>)
// CHECK: memref.copy %[[A]], %[[B]] : memref<1x8xf32> to memref<1x8xf32>
// A static, row-major view with an offset is still contiguous.
// CHECK: memref.copy %{{.*}}, %[[S]] : memref<2x8xf32> to memref<2x8xf32, strided<[8, 1], offset: 4>>
// CHECK-NOT: linalg.copy
func.func @copies(%a: memref<1x8xf32>, %b: memref<1x8xf32>, %v: memref<1x8xf32, strided<[16, 2], offset: ?>>,
                  %s: memref<2x8xf32, strided<[8, 1], offset: 4>>, %c: memref<2x8xf32>) {
  memref.copy %a, %v : memref<1x8xf32> to memref<1x8xf32, strided<[16, 2], offset: ?>>
  memref.copy %v, %b : memref<1x8xf32, strided<[16, 2], offset: ?>> to memref<1x8xf32>
  memref.copy %a, %b : memref<1x8xf32> to memref<1x8xf32>
  memref.copy %c, %s : memref<2x8xf32> to memref<2x8xf32, strided<[8, 1], offset: 4>>
  return
}
