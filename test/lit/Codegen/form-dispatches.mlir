// RUN: lowbit-opt %s --lowbit-form-dispatches | FileCheck %s
// RUN: lowbit-opt %s --lowbit-form-dispatches=fuse-residual=false | FileCheck %s --check-prefix=NOFUSE

// A residual add whose summand is a linear is fused into it; the final norm
// and lm_head run on the last token only when generating.
// CHECK-LABEL: func.func @forward
func.func @forward(%tokens: tensor<?xi32>, %positions: tensor<?xi32>) -> tensor<?x64xf32> {
  %emb = lowbit.weight "embed" : tensor<64x64xf32>
  %x = lowbit.embedding %tokens, %emb : (tensor<?xi32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %w = lowbit.weight "w" : tensor<64x64xf32>
  // CHECK: lowbit.linear {{.*}} {lowbit.writes_sum}
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  // CHECK: lowbit.add {{.*}} {lowbit.fused}
  // NOFUSE-NOT: lowbit.fused
  %h = lowbit.add %x, %y : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  // A linear whose other summand comes later stays on its own.
  // CHECK: %[[A:.*]] = lowbit.linear %{{.*}} : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  %a = lowbit.linear %h, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  // CHECK: lowbit.linear {{.*}} {lowbit.writes_sum}
  %b = lowbit.linear %h, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  // CHECK: lowbit.add %[[A]], %{{.*}} {lowbit.fused}
  %s = lowbit.add %a, %b : (tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  %nw = lowbit.weight "norm" : tensor<64xf32>
  // CHECK: lowbit.rms_norm {{.*}}lowbit.last_token_only
  %n = lowbit.rms_norm %s, %nw {epsilon = 1.0e-05 : f32} : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  // CHECK: lowbit.linear {{.*}} {lowbit.last_token_only}
  %logits = lowbit.linear %n, %w : (tensor<?x64xf32>, tensor<64x64xf32>) -> tensor<?x64xf32>
  return %logits : tensor<?x64xf32>
}
