// RUN: moe-opt %s --moe-lower-to-linalg=keep-gathers | FileCheck %s --check-prefix=KEEP
// RUN: moe-opt %s --moe-lower-to-linalg=keep-gathers --moe-cpu-distribute | FileCheck %s --check-prefix=DIST
// RUN: moe-opt %s --moe-lower-to-linalg=keep-gathers --moe-cpu-distribute '--moe-cpu-tile-contractions=rows=8 columns=32 reduction-block=32' | FileCheck %s --check-prefix=PACK

// The CPU path of a grouped GEMM whose A rows are gathered from the tokens
// (moe-fuse-experts' form), pass by pass.

// moe-lower-to-linalg{keep-gathers}: the decomposition keeps the gather of
// each expert's rows as moe.gather_rows, for the CPU tiling to fuse.
// KEEP-LABEL: func.func @gathered
// KEEP: scf.forall (%[[E:.*]]) in (4)
// KEEP:   %[[IDX:.*]] = tensor.extract_slice %{{.*}}[%{{.*}}] [8] [1] : tensor<32xi32> to tensor<8xi32>
// KEEP:   %[[A:.*]] = moe.gather_rows %{{.*}}[%[[IDX]]] into %{{.*}} : tensor<16x64xf32>, tensor<8xi32> into tensor<8x64xf32>
// KEEP:   linalg.matmul ins(%[[A]], %{{.*}} : tensor<8x64xf32>, tensor<64x512xf32>)

// moe-cpu-distribute: the gather is fused into each block of columns, so
// the expert loop holds nothing but slices (one grid of 4 x 2 workgroups
// after outlining) and the epilogue writes the result's rows in place.
// DIST-LABEL: func.func @gathered
// DIST: scf.forall (%{{.*}}) in (4) shared_outs(%[[OUT:.*]] = %{{.*}})
// DIST-NOT: moe.gather_rows
// DIST:   %[[ROWS:.*]] = tensor.extract_slice %[[OUT]]
// DIST:   scf.forall (%[[N:.*]]) = (0) to (512) step (256) shared_outs(%{{.*}} = %[[ROWS]])
// DIST:     %[[A:.*]] = moe.gather_rows
// DIST:     linalg.broadcast
// DIST:     linalg.matmul ins(%[[A]], %{{.*}} : tensor<8x64xf32>, tensor<64x256xf32>)
// DIST:     arith.maximumf

// moe-cpu-tile-contractions: each reduction block of A is packed straight
// from the tokens, a row per vector (row 0 read and zeroed for index -1):
// no gathered copy of A exists.
// PACK-LABEL: func.func @gathered
// PACK-SAME: (%[[X:[^:]*]]: tensor<16x64xf32>
// PACK-NOT: moe.gather_rows
// PACK: scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %c32
// PACK:   %[[XCOLS:.*]] = tensor.extract_slice %[[X]][0, %[[K0]]] [16, 32] [1, 1] : tensor<16x64xf32> to tensor<16x32xf32>
// PACK:   scf.for %{{.*}} = %{{.*}} to %c8 step %c1
// PACK:     %[[I:.*]] = tensor.extract %{{.*}}[%c0] : tensor<1xi32>
// PACK:     %[[NONE:.*]] = arith.cmpi slt, %[[I]]
// PACK:     %[[ROW:.*]] = vector.transfer_read %[[XCOLS]][%{{.*}}, %c0], %{{.*}} {in_bounds = [true, true]} : tensor<16x32xf32>, vector<1x32xf32>
// PACK:     %[[V:.*]] = arith.select %[[NONE]], %{{.*}}, %[[ROW]] : vector<1x32xf32>
// PACK:     vector.transfer_write %[[V]]
// PACK:   vector.contract
// PACK-NOT: moe.gather_rows
func.func @gathered(%x: tensor<16x64xf32>, %idx: tensor<32xi32>, %w: tensor<4x64x512xf32>, %b: tensor<4x512xf32>) -> tensor<32x512xf32> {
  %off = arith.constant dense<[0, 8, 16, 24, 32]> : tensor<5xi32>
  %init = tensor.empty() : tensor<32x512xf32>
  %h = moe.grouped_matmul %x gather(%idx : tensor<32xi32>), %w offsets %off bias(%b : tensor<4x512xf32>) into %init {activation = #moe<activation relu>} : tensor<16x64xf32>, tensor<4x64x512xf32>, tensor<5xi32> into tensor<32x512xf32>
  return %h : tensor<32x512xf32>
}
