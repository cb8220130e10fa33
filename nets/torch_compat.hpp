#pragma once
/// @file The one place where glassy's LibTorch code depends on the LibTorch version. glassy builds
/// against Debian's LibTorch 1.13 (CPU; what CI uses) and against a current LibTorch 2.x (e.g. the
/// one bundled with PyTorch 2.11, with CUDA). Of the C++ API glassy uses, these differ:
///
/// - torch::nn option variants (Conv2dOptions::padding, padding_mode): c10::variant up to 2.1,
///   std::variant from 2.2 on (pytorch/pytorch#103675 ... #110423; c10::variant itself was removed
///   in #112725). variant_get_if / variant_get below pick the matching accessor.
///
/// Checked and unchanged between 1.13 and 2.x for what glassy calls (no guard needed):
/// torch::autograd::grad(outputs, inputs) (retain_graph / create_graph defaults), Module::to /
/// parameters / named_buffers, torch::Generator get_state / set_state / clone / mutex,
/// at::detail::createCPUGenerator, Context::setDeterministicCuDNN / setBenchmarkCuDNN /
/// setAllowTF32CuDNN / setAllowTF32CuBLAS (kept as the legacy interface next to 2.x's
/// setFloat32Precision), torch::cuda::is_available, TensorOptions::pinned_memory.
///
/// Build-level differences (CMakeLists.txt): PyTorch's wheels use the C++11 std::string ABI
/// (_GLIBCXX_USE_CXX11_ABI=1) since 2.7 (pytorch/pytorch#143962; before, the pre-C++11 ABI, which
/// cannot link with Debian's HDF5 C++ library) and 2.x needs C++17 (glassy is C++20); a CUDA LibTorch's
/// TorchConfig needs the CUDA toolkit at configure time. docs/nets.md, "Building for a GPU".
#include <torch/torch.h>
#include <torch/version.h>

#include <variant>

/// True when the LibTorch being compiled against is at least major.minor.
#define GLASSY_TORCH_AT_LEAST(major, minor)                                                                            \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace glassy::nets::compat {

/// Pointer to the alternative T of a torch::nn option variant, or nullptr when it holds another
/// (std::get_if on LibTorch >= 2.2, c10::get_if before).
template <class T, class Variant>
[[nodiscard]] const T* variant_get_if(const Variant& v) {
#if GLASSY_TORCH_AT_LEAST(2, 2)
    return std::get_if<T>(&v);
#else
    return c10::get_if<T>(&v);
#endif
}

/// The alternative T of a torch::nn option variant; throws (std::bad_variant_access, or c10's
/// equivalent before 2.2) when it holds another.
template <class T, class Variant>
[[nodiscard]] const T& variant_get(const Variant& v) {
#if GLASSY_TORCH_AT_LEAST(2, 2)
    return std::get<T>(v);
#else
    return c10::get<T>(v);
#endif
}

} // namespace glassy::nets::compat
