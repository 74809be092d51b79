// RUN: moe-opt %s --split-input-file --verify-diagnostics --moe-cpu-merge-workgroups | FileCheck %s

// Workgroups with the same body (other value names and locations) become
// one: the copy's launch launches the first and the copy goes. A body that
// differs in one constant stays.
// CHECK-LABEL: module
// CHECK: func.func private @m_workgroup0(
// CHECK-NOT: func.func private @m_workgroup1(
// CHECK: func.func private @m_workgroup2(
// CHECK: func.func private @m_grid0({{.*}}) attributes {moe.grid_workgroup = @m_workgroup0}
// CHECK: func.func private @m_grid1({{.*}}) attributes {moe.grid_workgroup = @m_workgroup0}
// CHECK: func.func private @m_grid2({{.*}}) attributes {moe.grid_workgroup = @m_workgroup2}
module attributes {moe.entry = @m, moe.executor} {
  func.func private @m_workgroup0(%id: index, %a: memref<64xf32>) attributes {moe.workgroup} {
    %c2 = arith.constant 2.0 : f32
    %v = memref.load %a[%id] : memref<64xf32>
    %w = arith.mulf %v, %c2 : f32
    memref.store %w, %a[%id] : memref<64xf32>
    return
  }
  func.func private @m_workgroup1(%i: index, %b: memref<64xf32>) attributes {moe.workgroup} {
    %two = arith.constant 2.0 : f32 loc("block5.mlir":3:4)
    %x = memref.load %b[%i] : memref<64xf32>
    %y = arith.mulf %x, %two : f32
    memref.store %y, %b[%i] : memref<64xf32>
    return
  }
  func.func private @m_workgroup2(%id: index, %a: memref<64xf32>) attributes {moe.workgroup} {
    %c3 = arith.constant 3.0 : f32
    %v = memref.load %a[%id] : memref<64xf32>
    %w = arith.mulf %v, %c3 : f32
    memref.store %w, %a[%id] : memref<64xf32>
    return
  }
  func.func private @m_grid0(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @m_workgroup0}
  func.func private @m_grid1(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @m_workgroup1}
  func.func private @m_grid2(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @m_workgroup2}
  func.func @m(%a: memref<64xf32>, %executor: !llvm.ptr) {
    %c64 = arith.constant 64 : index
    call @m_grid0(%executor, %c64, %a) : (!llvm.ptr, index, memref<64xf32>) -> ()
    call @m_grid1(%executor, %c64, %a) : (!llvm.ptr, index, memref<64xf32>) -> ()
    call @m_grid2(%executor, %c64, %a) : (!llvm.ptr, index, memref<64xf32>) -> ()
    return
  }
}

// -----

// The same body with another argument type stays apart.
// CHECK-LABEL: module
// CHECK: func.func private @t_workgroup0(
// CHECK: func.func private @t_workgroup1(
module attributes {moe.entry = @t, moe.executor} {
  func.func private @t_workgroup0(%id: index, %a: memref<64xf32>) attributes {moe.workgroup} {
    return
  }
  func.func private @t_workgroup1(%id: index, %a: memref<32xf32>) attributes {moe.workgroup} {
    return
  }
  func.func private @t_grid0(!llvm.ptr, index, memref<64xf32>) attributes {moe.grid_workgroup = @t_workgroup0}
  func.func private @t_grid1(!llvm.ptr, index, memref<32xf32>) attributes {moe.grid_workgroup = @t_workgroup1}
  func.func @t(%executor: !llvm.ptr) {
    return
  }
}

// -----

module attributes {moe.entry = @u, moe.executor} {
  func.func private @u_workgroup0(%id: index) attributes {moe.workgroup} {
    return
  }
  func.func private @u_workgroup1(%id: index) attributes {moe.workgroup} {
    return
  }
  func.func private @u_grid0(!llvm.ptr, index) attributes {moe.grid_workgroup = @u_workgroup0}
  func.func @u(%executor: !llvm.ptr) {
    %c0 = arith.constant 0 : index
    // expected-error @+1 {{uses the workgroup function @u_workgroup1 other than as a grid launch's workgroup; it cannot be merged}}
    call @u_workgroup1(%c0) : (index) -> ()
    return
  }
}
