// RUN: moe-opt %s -split-input-file --moe-prepare-entry -verify-diagnostics

// expected-error@+1 {{a compiled module needs exactly one public function with a body (its entry), found 2}}
module {
  // expected-note@+1 {{public function 'a'}}
  func.func @a() { return }
  // expected-note@+1 {{public function 'b'}}
  func.func @b() { return }
}

// -----

// expected-error@+1 {{two tensors of the entry are named 'x'; names must be unique}}
func.func @dup(%x: tensor<2xf32> {moe.input = "x"}, %w: tensor<2xf32> {moe.weight = "x"}) {
  return
}

// -----

func.func @dynamic(
    // expected-error@+1 {{argument 'x' must be a tensor of static shape, got 'tensor<?xf32>'}}
    %x: tensor<?xf32> {moe.input = "x"}) {
  return
}
