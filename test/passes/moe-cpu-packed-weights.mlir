// RUN: moe-opt %s --split-input-file --moe-prepare-entry --moe-lower-to-linalg=keep-gathers --moe-cpu-distribute '--moe-cpu-tile-contractions=rows=8 columns=32 reduction-block=32' | FileCheck %s
// RUN: moe-opt %s --split-input-file --moe-prepare-entry --moe-lower-to-linalg=keep-gathers --moe-cpu-distribute '--moe-cpu-tile-contractions=rows=8 columns=32 reduction-block=32 pack-weights=false' | FileCheck %s --check-prefix=OFF
// RUN: moe-opt %s --split-input-file --moe-lower-to-linalg=keep-gathers --moe-cpu-distribute '--moe-cpu-tile-contractions=rows=8 columns=32 reduction-block=32' | FileCheck %s --check-prefix=NOENTRY

// moe-cpu-tile-contractions{pack-weights}: an expert weight read only as
// 32 x 32 strips of B is passed to the entry packed, [E, K, N] as
// [E, N / 32, K, 32]; each strip is a slice of it, read in place (no copy),
// at strip (column block + column) / 32, and the signature says so.
// CHECK: #[[STRIP:.*]] = affine_map<(d0, d1) -> ((d0 + d1) floordiv 32)>
// CHECK-LABEL: module attributes
// CHECK-SAME: \22name\22:\22arg2\22,\22role\22:\22weight\22,\22shape\22:[4,64,512],\22strips\22:32}
// CHECK: func.func @packed(%{{.*}}: tensor<16x64xf32>, %{{.*}}: tensor<64xi32>, %[[W:.*]]: tensor<4x16x64x32xf32>, %{{.*}}: tensor<4x512xf32>)
// CHECK: scf.forall (%[[E:.*]]) in (4)
// CHECK:   scf.forall (%[[N0:.*]]) = (0) to (512) step (256)
// CHECK:     scf.for %[[K0:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK:       scf.for %[[N:.*]] = %{{.*}} to %{{.*}} step %c32
// CHECK:         %[[J:.*]] = affine.apply #[[STRIP]](%[[N0]], %[[N]])
// CHECK:         %[[B:.*]] = tensor.extract_slice %[[W]][%[[E]], %[[J]], %[[K0]], 0] [1, 1, 32, 32] [1, 1, 1, 1] : tensor<4x16x64x32xf32> to tensor<32x32xf32>
// CHECK-NOT:     linalg.copy
// CHECK:         vector.contract
// The row-per-vector copy of a strip is gone.
// CHECK-NOT: tensor<1x32xf32> into tensor<32x32xf32>

// Without pack-weights, or without a prepared entry (whose signature would
// say how the weight is passed), each strip is copied on every call.
// OFF-LABEL: func.func @packed
// OFF-SAME: tensor<4x64x512xf32>
// OFF: tensor<1x32xf32> into tensor<32x32xf32>
// OFF-NOT: strips
// NOENTRY-LABEL: func.func @packed
// NOENTRY-SAME: tensor<4x64x512xf32>
// NOENTRY: tensor<1x32xf32> into tensor<32x32xf32>
func.func @packed(%x: tensor<16x64xf32>, %idx: tensor<64xi32>, %w: tensor<4x64x512xf32>, %b: tensor<4x512xf32>) -> tensor<64x512xf32> {
  %off = arith.constant dense<[0, 16, 32, 48, 64]> : tensor<5xi32>
  %init = tensor.empty() : tensor<64x512xf32>
  %h = moe.grouped_matmul %x gather(%idx : tensor<64xi32>), %w offsets %off bias(%b : tensor<4x512xf32>) into %init {activation = #moe<activation relu>} : tensor<16x64xf32>, tensor<4x64x512xf32>, tensor<5xi32> into tensor<64x512xf32>
  return %h : tensor<64x512xf32>
}

// -----

// A weight with another use (here: also returned) keeps its layout, and its
// strips are copied.
// CHECK-LABEL: module attributes
// CHECK-NOT: strips
// CHECK: func.func @also_returned(%{{.*}}: tensor<16x64xf32>, %{{.*}}: tensor<64xi32>, %[[W:.*]]: tensor<4x64x512xf32>
// CHECK: tensor<1x32xf32> into tensor<32x32xf32>
func.func @also_returned(%x: tensor<16x64xf32>, %idx: tensor<64xi32>, %w: tensor<4x64x512xf32>) -> (tensor<64x512xf32>, tensor<4x64x512xf32>) {
  %off = arith.constant dense<[0, 16, 32, 48, 64]> : tensor<5xi32>
  %init = tensor.empty() : tensor<64x512xf32>
  %h = moe.grouped_matmul %x gather(%idx : tensor<64xi32>), %w offsets %off into %init : tensor<16x64xf32>, tensor<4x64x512xf32>, tensor<5xi32> into tensor<64x512xf32>
  return %h, %w : tensor<64x512xf32>, tensor<4x64x512xf32>
}

// -----

// 80 columns: the last strip is 16 wide, which no packed slice is, so the
// weight keeps its layout.
// CHECK-LABEL: module attributes
// CHECK-NOT: strips
// CHECK: func.func @ragged_columns(%{{.*}}: tensor<16x64xf32>, %{{.*}}: tensor<64xi32>, %{{.*}}: tensor<4x64x80xf32>
func.func @ragged_columns(%x: tensor<16x64xf32>, %idx: tensor<64xi32>, %w: tensor<4x64x80xf32>) -> tensor<64x80xf32> {
  %off = arith.constant dense<[0, 16, 32, 48, 64]> : tensor<5xi32>
  %init = tensor.empty() : tensor<64x80xf32>
  %h = moe.grouped_matmul %x gather(%idx : tensor<64xi32>), %w offsets %off into %init : tensor<16x64xf32>, tensor<4x64x80xf32>, tensor<5xi32> into tensor<64x80xf32>
  return %h : tensor<64x80xf32>
}
