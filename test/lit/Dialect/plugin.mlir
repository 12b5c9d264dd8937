// UNSUPPORTED: sanitized
// RUN: %mlir_opt --load-dialect-plugin=%lowbit_libs/LowbitDialectPlugin.so %s | FileCheck %s

// The dialect plugin makes upstream mlir-opt understand lowbit IR.

// CHECK: lowbit.weight "w" : !lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
// CHECK: lowbit.linear
func.func @f(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %w = lowbit.weight "w" : !lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>
  %y = lowbit.linear %x, %w : (tensor<?x64xf32>, !lowbit.qweight<64x64, #lowbit.scheme<format = q8_0, bits = 8, group_size = 32, symmetric = true, act_order = false>>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}
