// RUN: lowbit-opt %s --canonicalize --cse | FileCheck %s

// Every op but lowbit.attention is Pure: unused ones disappear and identical
// ones merge. lowbit.attention appends to the KV cache, so each call stays,
// even an unused one, even one identical to another.

// CHECK-LABEL: func.func @effects
// CHECK-SAME:    (%[[X:.*]]: tensor<?x256xf32>, %[[K:.*]]: tensor<?x128xf32>, %[[P:.*]]: tensor<?xi32>)
func.func @effects(%x: tensor<?x256xf32>, %k: tensor<?x128xf32>, %p: tensor<?xi32>) -> tensor<?x256xf32> {
  // CHECK-NEXT: %[[W:.*]] = lowbit.weight "norm"
  // CHECK-NEXT: %[[H:.*]] = lowbit.rms_norm %[[X]], %[[W]]
  // CHECK-NEXT: %[[A0:.*]] = lowbit.attention %[[H]], %[[K]], %[[K]], %[[P]] {{.*}}layer = 0
  // CHECK-NEXT: %[[A1:.*]] = lowbit.attention %[[H]], %[[K]], %[[K]], %[[P]] {{.*}}layer = 0
  // CHECK-NEXT: lowbit.attention %[[H]], %[[K]], %[[K]], %[[P]] {{.*}}layer = 1
  // CHECK-NEXT: %[[S:.*]] = lowbit.add %[[A0]], %[[A1]]
  // CHECK-NEXT: return %[[S]]
  %w0 = lowbit.weight "norm" : tensor<256xf32>
  %w1 = lowbit.weight "norm" : tensor<256xf32>
  %h0 = lowbit.rms_norm %x, %w0 {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> tensor<?x256xf32>
  %h1 = lowbit.rms_norm %x, %w1 {epsilon = 1.0e-05 : f32} : (tensor<?x256xf32>, tensor<256xf32>) -> tensor<?x256xf32>
  %unused = lowbit.swiglu %h0, %h1 : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  %a0 = lowbit.attention %h0, %k, %k, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0}
      : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %a1 = lowbit.attention %h1, %k, %k, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 0}
      : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %a2 = lowbit.attention %h1, %k, %k, %p {num_heads = 4, num_kv_heads = 2, head_dim = 64, layer = 1}
      : (tensor<?x256xf32>, tensor<?x128xf32>, tensor<?x128xf32>, tensor<?xi32>) -> tensor<?x256xf32>
  %s = lowbit.add %a0, %a1 : (tensor<?x256xf32>, tensor<?x256xf32>) -> tensor<?x256xf32>
  return %s : tensor<?x256xf32>
}
