# -*- Python -*-
# The lowbit lit suite. Run it through the configured build tree
# (`ninja -C build check-lowbit-lit`, `ctest -R '^lit$'`, or
# `lit -sv build/test/lit`); run on this directory directly, it assumes the
# tools are in <repo>/build/bin.

import os
import sys

import lit.formats
import lit.llvm

config.name = "lowbit"
config.suffixes = [".mlir"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(os.path.abspath(__file__))

if not hasattr(config, "lowbit_tools_dir"):
    # No lit.site.cfg.py: the default build directory.
    root = os.path.dirname(os.path.dirname(config.test_source_root))
    config.lowbit_src_root = root
    config.lowbit_obj_root = os.path.join(root, "build")
    config.lowbit_tools_dir = os.path.join(root, "build", "bin")
    config.lowbit_lib_dir = os.path.join(root, "build", "lib")
    config.lowbit_models_dir = os.path.join(root, "models")
    config.llvm_tools_dir = "/usr/lib/llvm-22/bin"
    lit.llvm.initialize(lit_config, config)

from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.test_exec_root = os.path.join(config.lowbit_obj_root, "test", "lit")
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)

# FileCheck, not, count from LLVM.
llvm_config.use_default_substitutions()

# The project's tools by name: on PATH, and substituted by absolute path where
# already built (tools that are not built yet are simply not substituted).
llvm_config.with_environment("PATH", config.lowbit_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = ["lowbit-opt", "lowbit-translate", "lowbit-run", "lowbit-gpu-kernels"]
llvm_config.add_tool_substitutions(
    [ToolSubst(t, unresolved="ignore") for t in tools], [config.lowbit_tools_dir]
)

config.substitutions.append(("%lowbit_models", config.lowbit_models_dir))
config.substitutions.append(("%lowbit_libs", config.lowbit_lib_dir))
config.substitutions.append(("%mlir_opt", os.path.join(config.llvm_tools_dir, "mlir-opt")))

# An instrumented plugin cannot load into the distribution's uninstrumented
# mlir-opt (the sanitizer runtime must come first), so plugin tests need a
# plain build.
if getattr(config, "lowbit_sanitize", ""):
    config.available_features.add("sanitized")

# ptxas (the CUDA toolkit's PTX assembler) checks the generated GPU kernels:
# they must assemble for every target without spilling.
import shutil
ptxas = shutil.which("ptxas") or ("/usr/local/cuda/bin/ptxas" if os.access("/usr/local/cuda/bin/ptxas", os.X_OK) else None)
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
config.substitutions.append(("%python", sys.executable))
