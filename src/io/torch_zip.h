// PyTorch checkpoint files: torch.save zip archives (.pt/.pth/.bin/.ckpt: <name>/data.pkl plus
// one <name>/data/<key> entry per storage) and TorchScript archives (OpenAI's released .pt
// files: data.pkl holds the module tree). The pickles are read by a restricted unpickler that
// only rebuilds tensors and plain containers (see unpickle.h); nothing in the file is executed.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/tensor.h"

namespace clipkit::io {

struct TorchStateDict {
  // Tensor name -> tensor. For a TorchScript archive the names are module paths
  // ("visual.conv1.weight"); for a nested training checkpoint, the state dict found inside it
  // (names as stored; the loader strips a common prefix such as "model.").
  std::map<std::string, Tensor> tensors;
  bool torchscript = false;
  std::string found_at;  // where in the pickle the state dict was ("" for the top level, "state_dict", ...)
};

// Reads a torch zip or TorchScript archive. Tensors are views into the memory-mapped file when
// their storage is aligned for its dtype (torch aligns entries to 64 bytes), else copies.
// Throws an Error naming the file for anything else: a legacy (pre-1.6, non-zip) file, a
// compressed entry that cannot be inflated, a pickle asking for a global outside the allowed set
// (the error names the global), storages out of range.
TorchStateDict read_torch_checkpoint(const std::string& path);

// The same from an archive already in memory (used by the fuzzer and tests).
TorchStateDict parse_torch_checkpoint(std::shared_ptr<const void> owner, const unsigned char* data,
                                      size_t size, const std::string& label);

// True when the file starts like a zip archive ("PK\x03\x04").
bool looks_like_zip(const std::string& path);

}  // namespace clipkit::io
