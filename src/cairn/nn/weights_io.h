// Weights and other named tensors as safetensors files, the format PyTorch and Hugging Face tools share.
//
//   save_weights("mnist.safetensors", model);          // atomic: the old file survives a crash mid-write
//   load_weights("mnist.safetensors", model);          // strict: every name and shape must match
//
// Files hold the state dict under PyTorch names with metadata {"format": "pt"}, so
//   torch_model.load_state_dict(safetensors.torch.load_file("mnist.safetensors"))
// works for the equivalent torch.nn.Sequential, and a file saved from PyTorch loads here.
// Malformed or truncated files throw io::SafetensorsError naming the file and the fault; a file whose
// tensors do not fit the model throws StateDictError listing every missing, unexpected and mis-shaped one.
#pragma once
#include <map>
#include <string>

#include "cairn/nn/module.h"

namespace cairn::nn {

using Metadata = std::map<std::string, std::string>;

// Writes the tensors (any dtype Cairn has, any strides: they are written row-major) atomically, in the
// dict's order. Throws io::IoError when the file cannot be written (the old file, if any, stays intact).
void save_tensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});
void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                  const Metadata& metadata = {});

// Reads every tensor of a safetensors file (copied out of the mapping, in file order); `metadata`, when
// given, receives the file's "__metadata__". BOOL tensors load as uint8. Throws io::SafetensorsError for a
// malformed file or a dtype Cairn tensors do not hold (I16, U16, U32, U64, F8_*), naming the file and tensor.
TensorDict load_tensors(const std::string& path, Metadata* metadata = nullptr);

// save_tensors(path, m.state_dict(), {{"format", "pt"}}).
void save_weights(const std::string& path, const Module& m);
// load_tensors(path) into m.load_state_dict(dict, strict); errors are prefixed with the path.
LoadResult load_weights(const std::string& path, Module& m, bool strict = true);

// "F32" for DType::f32, and so on; throws DTypeError for a dtype the format cannot hold.
std::string safetensors_dtype_name(DType dtype);

}  // namespace cairn::nn
