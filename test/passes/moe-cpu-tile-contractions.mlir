// RUN: moe-opt %s --moe-cpu-tile-contractions="rows=8 columns=32 reduction-block=128" --canonicalize --cse | FileCheck %s

// 21 rows, K = 512, N = 256: Kc = 128 blocks of the reduction, the A block
// packed (21 x 128), then 32-column strips of B packed (128 x 32), then
// three 7-row tiles (21 rows need three tiles of at most 8: balanced, so no
// masked remainder); the 7 x 32 accumulator is read before the k loop,
// carried through it as a vector and written after.
// CHECK-LABEL: func.func @matmul
// CHECK: scf.for %{{.*}} = %c0 to %c512 step %c128
// CHECK:   %[[AE:.*]] = tensor.empty() : tensor<21x128xf32>
// CHECK:   %[[AP:.*]] = scf.for %{{.*}} = %c0 to %c21 step %c1 iter_args(%{{.*}} = %[[AE]])
// CHECK:     tensor.insert_slice {{.*}} : tensor<1x128xf32> into tensor<21x128xf32>
// CHECK:   scf.for %{{.*}} = %c0 to %c256 step %c32
// CHECK:     %[[BE:.*]] = tensor.empty() : tensor<128x32xf32>
// CHECK:     %[[BP:.*]] = scf.for %{{.*}} = %c0 to %c128 step %c1 iter_args(%{{.*}} = %[[BE]])
// CHECK:       tensor.insert_slice {{.*}} : tensor<1x32xf32> into tensor<128x32xf32>
// CHECK:     scf.for %{{.*}} = %c0 to %c21 step %c7
// CHECK:       %[[ACC:.*]] = vector.transfer_read {{.*}} : tensor<7x32xf32>, vector<7x32xf32>
// CHECK:       %[[SUM:.*]] = scf.for %{{.*}} = %c0 to %c128 step %c1 iter_args(%[[IT:.*]] = %[[ACC]]) -> (vector<7x32xf32>)
// CHECK-NOT:     vector.transfer_write
// CHECK:         tensor.extract_slice %[[AP]]
// CHECK:         tensor.extract_slice %[[BP]]
// CHECK:         vector.contract {{.*}} %[[IT]] : vector<7x1xf32>, vector<1x32xf32> into vector<7x32xf32>
// CHECK:       vector.transfer_write %[[SUM]]
// CHECK-NOT: vector<8x32xf32>
// CHECK-NOT: linalg.matmul
func.func @matmul(%a: tensor<21x512xf32>, %b: tensor<512x256xf32>, %c: tensor<21x256xf32>) -> tensor<21x256xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<21x512xf32>, tensor<512x256xf32>) outs(%c : tensor<21x256xf32>) -> tensor<21x256xf32>
  return %r : tensor<21x256xf32>
}

// 50 rows need 7 tiles: six of 8 and a static remainder of 2 rows.
// CHECK-LABEL: func.func @static_remainder
// CHECK: scf.for %{{.*}} = %c0 to %c48 step %c8
// CHECK:   vector.contract {{.*}} : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c128 step %c1 iter_args(%{{.*}}) -> (vector<2x32xf32>)
// CHECK:   vector.contract {{.*}} : vector<2x1xf32>, vector<1x32xf32> into vector<2x32xf32>
func.func @static_remainder(%a: tensor<50x128xf32>, %b: tensor<128x64xf32>, %c: tensor<50x64xf32>) -> tensor<50x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<50x128xf32>, tensor<128x64xf32>) outs(%c : tensor<50x64xf32>) -> tensor<50x64xf32>
  return %r : tensor<50x64xf32>
}

// The padded layout's expert GEMMs: one expert at a time, as a plain matmul
// on the collapsed operands (K = 64 fits one reduction block).
// CHECK-LABEL: func.func @batch_matmul
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1
// CHECK:   tensor.collapse_shape {{.*}} : tensor<1x16x64xf32> into tensor<16x64xf32>
// CHECK:   scf.for %{{.*}} = %c0 to %c64 step %c32
// CHECK:     scf.for %{{.*}} = %c0 to %c16 step %c8
// CHECK:       scf.for %{{.*}} = %c0 to %c64 step %c1 iter_args(%{{.*}}) -> (vector<8x32xf32>)
// CHECK:         vector.contract
// CHECK:   tensor.expand_shape
// CHECK-NOT: linalg.batch_matmul
func.func @batch_matmul(%a: tensor<2x16x64xf32>, %b: tensor<2x64x64xf32>, %c: tensor<2x16x64xf32>) -> tensor<2x16x64xf32> {
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x16x64xf32>, tensor<2x64x64xf32>) outs(%c : tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
  return %r : tensor<2x16x64xf32>
}

// A dynamic number of rows (the sorted layout's expert groups): full 8-row
// tiles up to 8 * floor(M / 8), then one masked 8-row tile whose
// transfers take the row mask; the contraction itself is unmasked
// (masked-off rows of A read as zeros and are never written).
// CHECK-LABEL: func.func @ragged_rows
// CHECK: %[[FULL:.*]] = affine.apply #{{.*}}()[%[[M:.*]]]
// CHECK: scf.for %{{.*}} = %c0 to %[[FULL]] step %c8
// CHECK:   vector.contract {{.*}} : vector<8x1xf32>, vector<1x32xf32> into vector<8x32xf32>
// CHECK: scf.for %{{.*}} = %[[FULL]] to %[[M]] step %c8
// CHECK:   %[[MASK:.*]] = vector.create_mask %{{.*}}, %c32 : vector<8x32xi1>
// CHECK:   vector.transfer_read {{.*}}, %[[MASK]] {{.*}} : tensor<?x32xf32>, vector<8x32xf32>
// CHECK:   scf.for
// CHECK-NOT: vector.mask
// CHECK:     vector.contract
// CHECK:   vector.transfer_write {{.*}}, %[[MASK]]
func.func @ragged_rows(%a: tensor<?x64xf32>, %b: tensor<64x64xf32>, %c: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<?x64xf32>, tensor<64x64xf32>) outs(%c : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %r : tensor<?x64xf32>
}

// Other contractions (transposed maps) are left alone.
// CHECK-LABEL: func.func @transposed
// CHECK: linalg.matmul
func.func @transposed(%a: tensor<16x8xf32>, %b: tensor<8x32xf32>, %c: tensor<16x32xf32>) -> tensor<16x32xf32> {
  %at = tensor.empty() : tensor<8x16xf32>
  %r = linalg.matmul indexing_maps = [affine_map<(m, n, k) -> (k, m)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>]
         ins(%at, %b : tensor<8x16xf32>, tensor<8x32xf32>) outs(%c : tensor<16x32xf32>) -> tensor<16x32xf32>
  return %r : tensor<16x32xf32>
}

// A reduction of 192 is two static blocks of 96 (not 128 and a block of
// dynamic depth 64): every packed row of A is a static vector.
// CHECK-LABEL: func.func @balanced_reduction
// CHECK: scf.for %{{.*}} = %c0 to %c192 step %c96
// CHECK:   tensor.empty() : tensor<16x96xf32>
// CHECK:   tensor.insert_slice {{.*}} : tensor<1x96xf32> into tensor<16x96xf32>
func.func @balanced_reduction(%a: tensor<16x192xf32>, %b: tensor<192x64xf32>, %c: tensor<16x64xf32>) -> tensor<16x64xf32> {
  %r = linalg.matmul ins(%a, %b : tensor<16x192xf32>, tensor<192x64xf32>) outs(%c : tensor<16x64xf32>) -> tensor<16x64xf32>
  return %r : tensor<16x64xf32>
}
