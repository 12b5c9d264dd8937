// RUN: lowbit-opt %s -split-input-file -verify-diagnostics

// One case per verifier error of lowbit.split_columns.

func.func @empty(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op needs at least one column}}
  %i, %o = lowbit.split_columns %x {columns = array<i64>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x0xf32>)
  return
}

// -----

func.func @out_of_range(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op column 8 is outside the input width 8}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 2, 8>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  return
}

// -----

func.func @negative(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op column -1 is outside the input width 8}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: -1, 2>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  return
}

// -----

func.func @unsorted(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op columns must be strictly increasing, got 5 before 3}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 5, 3>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  return
}

// -----

func.func @duplicate(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op columns must be strictly increasing, got 3 before 3}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 3, 3>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x2xf32>)
  return
}

// -----

func.func @inliers_width(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op inliers type 'tensor<?x7xf32>' does not match input type 'tensor<?x8xf32>'}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 3>} : (tensor<?x8xf32>) -> (tensor<?x7xf32>, tensor<?x1xf32>)
  return
}

// -----

func.func @outliers_width(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op outliers width 1 does not match the 2 columns}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 3, 4>} : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>)
  return
}

// -----

func.func @sequence_length(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'lowbit.split_columns' op sequence length of outliers (5) does not match input (4)}}
  %i, %o = lowbit.split_columns %x {columns = array<i64: 3>} : (tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<5x1xf32>)
  return
}

// -----

func.func @missing_columns(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{requires attribute 'columns'}}
  %i, %o = lowbit.split_columns %x : (tensor<?x8xf32>) -> (tensor<?x8xf32>, tensor<?x1xf32>)
  return
}
