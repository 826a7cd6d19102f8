// Named architectures (OpenCLIP's model_configs/*.json names), so that a bare state dict such as
// OpenAI's released ViT-B-32.pt loads without a config file.
//
// Activation: the architectures OpenAI released (RN50, RN101, RN50x4, RN50x16, RN50x64, ViT-B-32,
// ViT-B-16, ViT-L-14, ViT-L-14-336) use QuickGELU, since their only plain-state-dict weights are
// OpenAI's; LAION's ViT-H-14, ViT-g-14 and ViT-bigG-14 use GELU. Every name also exists with a
// "-quickgelu" suffix (QuickGELU forced, as OpenCLIP names the variants for weights trained with
// it, e.g. DFN's ViT-H-14-quickgelu). LAION-trained B and L models use GELU and come with an
// open_clip_config.json that says so. Preprocessing: OpenAI's mean/std, bicubic, shortest side,
// at the tower's image size.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/config.h"

namespace clipkit::io {

// The preset's config, or nullopt when the name is unknown.
std::optional<ModelConfig> find_preset(const std::string& name);
// The preset's config; an unknown name is an Error that lists the known ones.
ModelConfig preset(const std::string& name);
// Every accepted name (base names and their -quickgelu variants).
std::vector<std::string> preset_names();

}  // namespace clipkit::io
