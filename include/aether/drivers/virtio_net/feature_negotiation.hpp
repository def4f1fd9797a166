// Which features the driver accepts from a virtio-net device (virtio 1.2,
// 3.1.1 step 4), chosen once at bring-up and logged (STYLE.md convention 9).
#pragma once

#include <cstdint>
#include <string>

#include "aether/core/result.hpp"

namespace aether::drivers::virtio_net {

struct FeatureChoice {
  std::uint64_t accepted = 0;  // written to driver_feature
  std::string description;     // "VERSION_1 ACCESS_PLATFORM MAC STATUS"
};

// Requires VIRTIO_F_VERSION_1 (the modern interface). Behind an IOMMU the
// device must offer VIRTIO_F_ACCESS_PLATFORM: without it the device
// bypasses the IOMMU and would treat our IOVAs as physical addresses (6,
// "VIRTIO_F_ACCESS_PLATFORM"); when offered it is always accepted (the
// device may refuse FEATURES_OK otherwise). Accepts MAC, STATUS and MTU
// when offered; with `control_queue` also CTRL_VQ and CTRL_RX (the port's
// multicast and promiscuous commands; CTRL_RX only together with CTRL_VQ,
// 5.1.3.1). Everything else (offloads, mergeable buffers, multiple queues,
// event index, packed rings) stays off for now.
[[nodiscard]] Result<FeatureChoice> choose_features(std::uint64_t device_features, bool behind_iommu,
                                                    const std::string& device_name, bool control_queue = false);

}  // namespace aether::drivers::virtio_net
