// RUN: moe-opt %s --moe-prepare-entry | FileCheck %s --check-prefix=PREPARE
// RUN: moe-opt %s --moe-to-cpu | FileCheck %s --check-prefix=EMIT

// PREPARE: module attributes {moe.entry = @f, moe.signature = "{\22args\22:[{\22dtype\22:\22f32\22,\22name\22:\22x\22,\22role\22:\22input\22,\22shape\22:[2,4]},{\22dtype\22:\22f32\22,\22name\22:\22w\22,\22role\22:\22weight\22,\22shape\22:[4]}],\22entry\22:\22f\22,\22results\22:[{\22dtype\22:\22f32\22,\22name\22:\22y\22,\22shape\22:[2,4]}]}"}
// PREPARE: func.func @f(%{{.*}}: tensor<2x4xf32>, %{{.*}}: tensor<4xf32>) -> tensor<2x4xf32> attributes {llvm.emit_c_interface}

// ABI version 3: the signature lists the entry's checks (here none: nothing
// is allocated), the status record follows the result (args[3]) and the
// executor of the entry's grids follows the status record (args[4]). The
// entry's own code (glue; the work runs in its grids) is optimized for size.
// EMIT: llvm.func @f({{.*}}) attributes {{{.*}}passthrough = ["optsize"]
// EMIT: llvm.mlir.global external constant @moe_signature_json("{\22abi\22:3,\22args\22
// EMIT-SAME: \22checks\22:[],
// EMIT-SAME: \22device\22:\22cpu\22
// EMIT: llvm.func @moe_entry(%[[ARGS:.*]]: !llvm.ptr) {
// EMIT: llvm.getelementptr %[[ARGS]][3] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// EMIT: llvm.getelementptr %[[ARGS]][4] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// EMIT: llvm.call @_mlir_ciface_f(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : (!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> ()
func.func @f(%x: tensor<2x4xf32> {moe.input = "x"}, %w: tensor<4xf32> {moe.weight = "w"})
    -> (tensor<2x4xf32> {moe.output = "y"}) {
  return %x : tensor<2x4xf32>
}
