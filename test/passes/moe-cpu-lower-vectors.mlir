// RUN: moe-opt %s --moe-cpu-lower-vectors --cse | FileCheck %s

#a = affine_map<(m, n, k) -> (m, k)>
#b = affine_map<(m, n, k) -> (k, n)>
#c = affine_map<(m, n, k) -> (m, n)>

// A register tile as moe-cpu-tile-contractions leaves it, bufferized: the
// 4 x 16 accumulator is loaded once, then each reduction step is one
// broadcast of A[i, k] and one fused multiply-add per accumulator row on
// the B row B[k, :]; no contraction or n-D transfer is left.
// CHECK-LABEL: func.func @register_tile
// CHECK-COUNT-4: vector.load %{{.*}} : memref<4x16xf32, strided<[16, 1]>>, vector<16xf32>
// CHECK: scf.for {{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<4x16xf32>)
// CHECK-COUNT-4: vector.load %{{.*}} : memref<4x64xf32>, vector<1xf32>
// CHECK:   %[[B:.*]] = vector.load %{{.*}} : memref<64x16xf32>, vector<16xf32>
// CHECK-COUNT-4: vector.fma %{{.*}}, %[[B]], %{{.*}} : vector<16xf32>
// CHECK: }
// CHECK-COUNT-4: vector.store %{{.*}} : memref<4x16xf32, strided<[16, 1]>>, vector<16xf32>
// CHECK-NOT: vector.contract
// CHECK-NOT: vector.transfer_read
func.func @register_tile(%a: memref<4x64xf32>, %b: memref<64x16xf32>, %c: memref<4x16xf32, strided<[16, 1]>>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %pad = arith.constant 0.0 : f32
  %acc = vector.transfer_read %c[%c0, %c0], %pad {in_bounds = [true, true]} : memref<4x16xf32, strided<[16, 1]>>, vector<4x16xf32>
  %sum = scf.for %k = %c0 to %c64 step %c1 iter_args(%it = %acc) -> (vector<4x16xf32>) {
    %va = vector.transfer_read %a[%c0, %k], %pad {in_bounds = [true, true]} : memref<4x64xf32>, vector<4x1xf32>
    %vb = vector.transfer_read %b[%k, %c0], %pad {in_bounds = [true, true]} : memref<64x16xf32>, vector<1x16xf32>
    %r = vector.contract {indexing_maps = [#a, #b, #c], iterator_types = ["parallel", "parallel", "reduction"], kind = #vector.kind<add>} %va, %vb, %it : vector<4x1xf32>, vector<1x16xf32> into vector<4x16xf32>
    scf.yield %r : vector<4x16xf32>
  }
  vector.transfer_write %sum, %c[%c0, %c0] {in_bounds = [true, true]} : vector<4x16xf32>, memref<4x16xf32, strided<[16, 1]>>
  return
}
