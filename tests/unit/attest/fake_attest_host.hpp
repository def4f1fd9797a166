// A fake /sys and /proc for the attest tests: a copy of
// tests/data/partition/isolated-v2 (4 CPUs, 2-3 isolated, IRQs, knobs,
// cgroup v2) plus an isolated cpuset partition "aether" on CPUs 2-3, an
// IOMMU group 3 (type DMA) and a virtio-net function 0000:00:03.0 bound to
// vfio-pci in it, with a 256-byte configuration space (MSI-X table of 3,
// subsystem 1af4:1100), sysfs ID files and BAR sizes. Tests change files in
// it to play a tampered host. No device is behind a fake tree, so what the
// driver would read from it (features, MAC) is given in driver_views.
#pragma once

#include <stdlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "aether/attest/driver_view.hpp"
#include "aether/partition/host_access.hpp"

namespace aether::attest::test {

namespace fs = std::filesystem;

// PCI type-0 configuration space (PCI 3.0 figure 6-1) with a capability
// list: MSI-X at 0x40 (table size `msix_entries`), vendor-specific at 0x50.
inline std::vector<std::uint8_t> make_config_space(std::uint16_t vendor, std::uint16_t device,
                                                   std::uint16_t subsystem_vendor, std::uint16_t subsystem,
                                                   unsigned msix_entries) {
  std::vector<std::uint8_t> config(256, 0);
  auto put16 = [&](std::size_t offset, std::uint16_t value) {
    config[offset] = static_cast<std::uint8_t>(value);
    config[offset + 1] = static_cast<std::uint8_t>(value >> 8);
  };
  put16(0x00, vendor);
  put16(0x02, device);
  put16(0x04, 0x0406);  // Command: memory space, bus master, INTx disable
  put16(0x06, 0x0010);  // Status: capabilities list
  config[0x08] = 0x01;  // revision
  config[0x0b] = 0x02;  // class: network controller
  put16(0x10, 0x1000);  // BAR0 address bits (volatile)
  put16(0x2c, subsystem_vendor);
  put16(0x2e, subsystem);
  config[0x34] = 0x40;
  config[0x3c] = 11;  // interrupt line (volatile)
  config[0x3d] = 1;   // interrupt pin
  config[0x40] = 0x11;
  config[0x41] = 0x50;
  put16(0x42, static_cast<std::uint16_t>(msix_entries - 1));
  config[0x50] = 0x09;
  config[0x51] = 0x00;
  return config;
}

class FakeAttestHost {
 public:
  FakeAttestHost() {
    std::string pattern = (fs::temp_directory_path() / "aether-attest-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
    root_ = pattern;
    fs::copy(fs::path(AETHER_TEST_DATA_DIR) / "partition" / "isolated-v2", root_, fs::copy_options::recursive);
    write("sys/fs/cgroup/aether/cpuset.cpus.partition", "isolated\n");
    write("sys/fs/cgroup/aether/cpuset.cpus.effective", "2-3\n");
    write("sys/fs/cgroup/aether/cgroup.procs", "");
    write("sys/kernel/iommu_groups/3/type", "DMA\n");
    add_device("0000:00:03.0", make_config_space(0x1af4, 0x1041, 0x1af4, 0x1100, 3), "vfio-pci", 3);
    // QEMU's virtio-net-pci offers VERSION_1, ACCESS_PLATFORM (iommu_platform=on), MAC, STATUS...
    driver_views["0000:00:03.0"].reads = VirtioNetView{0x000000030079bfe7, MacAddress{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
  }
  ~FakeAttestHost() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  FakeAttestHost(const FakeAttestHost&) = delete;
  FakeAttestHost& operator=(const FakeAttestHost&) = delete;

  [[nodiscard]] partition::HostRoots roots() const { return {root_ / "sys", root_ / "proc"}; }
  [[nodiscard]] const fs::path& root() const { return root_; }

  // BDF -> what the device answers to the driver's register reads.
  std::map<std::string, DriverView> driver_views;
  [[nodiscard]] DriverViewReader driver_view_reader() const {
    return [this](const vfio::PciFunction& function) {
      const auto found = driver_views.find(function.address.to_string());
      return found == driver_views.end() ? DriverView{} : found->second;
    };
  }

  void write(const fs::path& relative, const std::string& text) const {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::trunc) << text;
  }
  void write_bytes(const fs::path& relative, const std::vector<std::uint8_t>& bytes) const {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  [[nodiscard]] fs::path device_dir(const std::string& bdf) const { return root_ / "sys/bus/pci/devices" / bdf; }

  // A PCI function with its IDs, config space, BARs and driver; group < 0: none.
  void add_device(const std::string& bdf, const std::vector<std::uint8_t>& config, const std::string& driver,
                  int group) const {
    const fs::path dir = device_dir(bdf);
    fs::create_directories(dir);
    auto hex16 = [&](std::size_t offset) {
      char text[16];
      std::snprintf(text, sizeof(text), "0x%04x\n", config[offset] | config[offset + 1] << 8);
      return std::string(text);
    };
    write_bytes(dir.lexically_relative(root_) / "config", config);
    write(dir.lexically_relative(root_) / "class", "0x020000\n");
    write(dir.lexically_relative(root_) / "vendor", hex16(0x00));
    write(dir.lexically_relative(root_) / "device", hex16(0x02));
    write(dir.lexically_relative(root_) / "subsystem_vendor", hex16(0x2c));
    write(dir.lexically_relative(root_) / "subsystem_device", hex16(0x2e));
    write(dir.lexically_relative(root_) / "revision", "0x01\n");
    write(dir.lexically_relative(root_) / "resource",
          "0x00000000fe000000 0x00000000fe000fff 0x0000000000040200\n"
          "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
          "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
          "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
          "0x00000000fe004000 0x00000000fe007fff 0x000000000014220c\n"
          "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    bind(bdf, driver);
    if (group >= 0) {
      const fs::path group_dir = root_ / "sys/kernel/iommu_groups" / std::to_string(group);
      fs::create_directories(group_dir / "devices");
      fs::create_directory_symlink(dir, group_dir / "devices" / bdf);
      fs::create_directory_symlink(group_dir, dir / "iommu_group");
    }
  }
  void bind(const std::string& bdf, const std::string& driver) const {
    const fs::path driver_dir = root_ / "sys/bus/pci/drivers" / driver;
    fs::create_directories(driver_dir);
    fs::remove(device_dir(bdf) / "driver");
    fs::create_directory_symlink(driver_dir, device_dir(bdf) / "driver");
  }

 private:
  fs::path root_;
};

}  // namespace aether::attest::test
