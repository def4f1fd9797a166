// A fake /sys and /proc in a temporary directory, shaped like the kernel's
// (bus/pci/devices/<BDF>/{class,vendor,device,driver->,iommu_group->,net/},
// kernel/iommu_groups/<n>/devices/, class/net/<if>/flags, net/route), for
// parsing and binding tests without privileges.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace aether::vfio::testing {

class FakeSysfs {
 public:
  FakeSysfs() {
    std::string pattern = (std::filesystem::temp_directory_path() / "aether-vfio-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
    std::filesystem::create_directories(sys() + "/bus/pci/devices");
    std::filesystem::create_directories(sys() + "/bus/pci/drivers");
    std::filesystem::create_directories(proc() + "/net");
    write(sys() + "/bus/pci/drivers_probe", "");
  }
  ~FakeSysfs() { std::filesystem::remove_all(root_); }
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  [[nodiscard]] std::string sys() const { return root_ + "/sys"; }
  [[nodiscard]] std::string proc() const { return root_ + "/proc"; }
  [[nodiscard]] std::string state() const { return root_ + "/state"; }
  [[nodiscard]] std::string device_dir(const std::string& bdf) const { return sys() + "/bus/pci/devices/" + bdf; }

  static void write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
  }
  [[nodiscard]] static std::string read(const std::string& path) {
    std::ifstream file(path);
    return std::string(std::istreambuf_iterator<char>(file), {});
  }

  // A PCI function; driver "" = unbound; group < 0 = no IOMMU group.
  void add_device(const std::string& bdf, const std::string& class_code, const std::string& vendor,
                  const std::string& device, const std::string& driver, int group) {
    const std::string dir = device_dir(bdf);
    write(dir + "/class", class_code + "\n");
    write(dir + "/vendor", vendor + "\n");
    write(dir + "/device", device + "\n");
    write(dir + "/numa_node", "0\n");
    write(dir + "/driver_override", "(null)\n");
    if (!driver.empty()) bind_driver(bdf, driver);
    if (group >= 0) {
      const std::string group_dir = sys() + "/kernel/iommu_groups/" + std::to_string(group);
      std::filesystem::create_directories(group_dir + "/devices");
      std::filesystem::create_directory_symlink(dir, group_dir + "/devices/" + bdf);
      std::filesystem::create_directory_symlink(group_dir, dir + "/iommu_group");
    }
  }
  void bind_driver(const std::string& bdf, const std::string& driver) {
    const std::string driver_dir = sys() + "/bus/pci/drivers/" + driver;
    std::filesystem::create_directories(driver_dir);
    write(driver_dir + "/unbind", "");
    std::filesystem::remove(device_dir(bdf) + "/driver");
    std::filesystem::create_directory_symlink(driver_dir, device_dir(bdf) + "/driver");
  }
  // A netdev under the device; flags "0x1003" = up.
  void add_netdev(const std::string& bdf, const std::string& name, const std::string& flags, bool under_virtio = false) {
    const std::string dir = device_dir(bdf) + (under_virtio ? "/virtio0/net/" : "/net/") + name;
    std::filesystem::create_directories(dir);
    std::filesystem::create_directories(sys() + "/class/net");
    std::filesystem::create_directory_symlink(dir, sys() + "/class/net/" + name);
    write(dir + "/flags", flags + "\n");
    write(dir + "/operstate", "up\n");
  }
  void set_routes(const std::string& ipv4_table) {
    write(proc() + "/net/route",
          "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" + ipv4_table);
  }

 private:
  std::string root_;
};

}  // namespace aether::vfio::testing
