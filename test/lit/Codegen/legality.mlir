// RUN: lowbit-opt %s --lowbit-codegen-legality -split-input-file -verify-diagnostics

// An activation width the kernels cannot tile.
module {
  func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x70xf32> {
    %emb = lowbit.weight "embed" : tensor<64x64xf32>
    %x = lowbit.embedding %tokens, %emb : (tensor<?xi32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    %w = lowbit.weight "w" : tensor<70x64xf32>
    // expected-error @below {{activation width 70 is not a multiple of 32}}
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<70x64xf32>) -> tensor<?x70xf32>
    return %y : tensor<?x70xf32>
  }
}

// -----

// An affine bit width without a kernel.
module {
  func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x64xf32> {
    %emb = lowbit.weight "embed" : tensor<64x64xf32>
    %x = lowbit.embedding %tokens, %emb : (tensor<?xi32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    %w = lowbit.weight "w" : !lowbit.qweight<64x64, #lowbit.scheme<format = affine, bits = 6, group_size = 32, symmetric = false, act_order = false>>
    // expected-error @below {{affine 6-bit weights have no kernel}}
    %y = lowbit.linear %x, %w : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<format = affine, bits = 6, group_size = 32, symmetric = false, act_order = false>>) -> tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
}

// -----

// An op of another dialect in @forward.
module {
  func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x64xf32> {
    %emb = lowbit.weight "embed" : tensor<64x64xf32>
    %x = lowbit.embedding %tokens, %emb : (tensor<?xi32>, tensor<64x64xf32>) -> tensor<?x64xf32>
    // expected-error @below {{'arith.addf' has no generated kernel}}
    %y = arith.addf %x, %x : tensor<?x64xf32>
    return %y : tensor<?x64xf32>
  }
}
