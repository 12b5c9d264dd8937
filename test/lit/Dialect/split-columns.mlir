// RUN: lowbit-opt %s | lowbit-opt | FileCheck %s
// RUN: lowbit-opt %s --mlir-print-op-generic | lowbit-opt | FileCheck %s
// RUN: lowbit-opt %s --cse --canonicalize | FileCheck %s --check-prefix=PURE

// lowbit.split_columns, as --lowbit-llm-int8 uses it: the int8 linear reads
// the inliers, a 16-bit linear the gathered outlier columns.

// CHECK-LABEL: func.func @decomposed
// CHECK-SAME:    (%[[X:.*]]: tensor<?x256xf32>)
func.func @decomposed(%x: tensor<?x256xf32>) -> tensor<?x512xf32> {
  %w8 = lowbit.weight "model.layers.0.mlp.gate_proj.weight" : !lowbit.qweight<512x256, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>
  %w16 = lowbit.weight "model.layers.0.mlp.gate_proj.weight.outliers" : tensor<512x3xf16>
  // CHECK: %[[IN:.*]], %[[OUT:.*]] = lowbit.split_columns %[[X]] {columns = array<i64: 3, 77, 255>} : (tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x3xf32>)
  %inl, %out = lowbit.split_columns %x {columns = array<i64: 3, 77, 255>} : (tensor<?x256xf32>) -> (tensor<?x256xf32>, tensor<?x3xf32>)
  // CHECK: %[[A:.*]] = lowbit.linear %[[IN]], %{{.*}} : (tensor<?x256xf32>, !lowbit.qweight<512x256, #lowbit.scheme<format = int8_row
  %a = lowbit.linear %inl, %w8 : (tensor<?x256xf32>, !lowbit.qweight<512x256, #lowbit.scheme<format = int8_row, bits = 8, group_size = -1, symmetric = true, act_order = false>>) -> tensor<?x512xf32>
  // CHECK: %[[B:.*]] = lowbit.linear %[[OUT]], %{{.*}} : (tensor<?x3xf32>, tensor<512x3xf16>) -> tensor<?x512xf32>
  %b = lowbit.linear %out, %w16 : (tensor<?x3xf32>, tensor<512x3xf16>) -> tensor<?x512xf32>
  // CHECK: lowbit.add %[[A]], %[[B]]
  %y = lowbit.add %a, %b : (tensor<?x512xf32>, tensor<?x512xf32>) -> tensor<?x512xf32>
  return %y : tensor<?x512xf32>
}

// Static sequence lengths are allowed when they agree.
// CHECK-LABEL: func.func @static_rows
// CHECK: lowbit.split_columns %{{.*}} {columns = array<i64: 0>} : (tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>)
func.func @static_rows(%x: tensor<4x8xf32>) -> tensor<4x1xf32> {
  %inl, %out = lowbit.split_columns %x {columns = array<i64: 0>} : (tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x1xf32>)
  return %out : tensor<4x1xf32>
}

// The op is pure: identical splits merge and unused ones go away.
// PURE-LABEL: func.func @static_rows
// PURE-LABEL: func.func @twice
// PURE-COUNT-1: lowbit.split_columns
// PURE-NOT: lowbit.split_columns
func.func @twice(%x: tensor<?x8xf32>) -> (tensor<?x2xf32>, tensor<?x2xf32>) {
  %i0, %o0 = lowbit.split_columns %x {columns = array<i64: 1, 5>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  %i1, %o1 = lowbit.split_columns %x {columns = array<i64: 1, 5>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  %i2, %o2 = lowbit.split_columns %x {columns = array<i64: 2>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>)
  return %o0, %o1 : tensor<?x2xf32>, tensor<?x2xf32>
}
