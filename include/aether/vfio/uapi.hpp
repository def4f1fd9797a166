// Kernel interface definitions for the iommufd + VFIO device cdev path that
// Debian 12's linux-libc-dev (6.1 headers) does not have yet: <linux/iommufd.h>
// is absent and <linux/vfio.h> lacks VFIO_DEVICE_BIND_IOMMUFD.
//
// Source: include/uapi/linux/iommufd.h (iommufd core, Linux 6.2) and
// include/uapi/linux/vfio.h "VFIO device cdev" ioctls (Linux 6.6). Every
// structure here is extensible: the first u32 is its size, and the kernel
// accepts a shorter (older) structure, so we pass exactly these sizes.
// Layouts are checked below; the ioctl numbers are _IO(';', n) like the
// rest of VFIO (VFIO_TYPE ';' = 0x3b).
#pragma once

#include <linux/vfio.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace aether::vfio::uapi {

// --- iommufd (/dev/iommu) ---------------------------------------------------
// enum { IOMMUFD_CMD_BASE = 0x80, DESTROY = 0x80, IOAS_ALLOC, ALLOW_IOVAS,
//        IOAS_COPY, IOAS_IOVA_RANGES, IOAS_MAP, IOAS_UNMAP, ... }
inline constexpr unsigned long iommu_destroy_ioctl = _IO(';', 0x80);
inline constexpr unsigned long iommu_ioas_alloc_ioctl = _IO(';', 0x81);
inline constexpr unsigned long iommu_ioas_map_ioctl = _IO(';', 0x85);
inline constexpr unsigned long iommu_ioas_unmap_ioctl = _IO(';', 0x86);

struct IommuDestroy {  // struct iommu_destroy
  std::uint32_t size;
  std::uint32_t id;
};
static_assert(sizeof(IommuDestroy) == 8);

struct IommuIoasAlloc {  // struct iommu_ioas_alloc
  std::uint32_t size;
  std::uint32_t flags;  // must be 0
  std::uint32_t out_ioas_id;
};
static_assert(sizeof(IommuIoasAlloc) == 12);
static_assert(offsetof(IommuIoasAlloc, out_ioas_id) == 8);

// enum iommufd_ioas_map_flags
inline constexpr std::uint32_t iommu_ioas_map_fixed_iova = 1U << 0;
inline constexpr std::uint32_t iommu_ioas_map_writeable = 1U << 1;
inline constexpr std::uint32_t iommu_ioas_map_readable = 1U << 2;

struct IommuIoasMap {  // struct iommu_ioas_map
  std::uint32_t size;
  std::uint32_t flags;
  std::uint32_t ioas_id;
  std::uint32_t reserved;  // must be 0
  std::uint64_t user_va;
  std::uint64_t length;
  std::uint64_t iova;  // input with FIXED_IOVA
};
static_assert(sizeof(IommuIoasMap) == 40);
static_assert(offsetof(IommuIoasMap, user_va) == 16);
static_assert(offsetof(IommuIoasMap, length) == 24);
static_assert(offsetof(IommuIoasMap, iova) == 32);

struct IommuIoasUnmap {  // struct iommu_ioas_unmap
  std::uint32_t size;
  std::uint32_t ioas_id;
  std::uint64_t iova;
  std::uint64_t length;  // in: bytes to unmap; out: bytes unmapped
};
static_assert(sizeof(IommuIoasUnmap) == 24);
static_assert(offsetof(IommuIoasUnmap, iova) == 8);

// --- VFIO device cdev (/dev/vfio/devices/vfioN) -----------------------------
// VFIO_DEVICE_BIND_IOMMUFD _IO(VFIO_TYPE, VFIO_BASE + 18),
// VFIO_DEVICE_ATTACH_IOMMUFD_PT + 19, VFIO_DEVICE_DETACH_IOMMUFD_PT + 20.
inline constexpr unsigned long vfio_device_bind_iommufd_ioctl = _IO(VFIO_TYPE, VFIO_BASE + 18);
inline constexpr unsigned long vfio_device_attach_iommufd_pt_ioctl = _IO(VFIO_TYPE, VFIO_BASE + 19);
inline constexpr unsigned long vfio_device_detach_iommufd_pt_ioctl = _IO(VFIO_TYPE, VFIO_BASE + 20);

struct VfioDeviceBindIommufd {  // struct vfio_device_bind_iommufd
  std::uint32_t argsz;
  std::uint32_t flags;  // must be 0
  std::int32_t iommufd;
  std::uint32_t out_devid;
};
static_assert(sizeof(VfioDeviceBindIommufd) == 16);

struct VfioDeviceAttachIommufdPt {  // struct vfio_device_attach_iommufd_pt (6.6 size; 6.13 appends pasid)
  std::uint32_t argsz;
  std::uint32_t flags;  // 0: attach the whole device, no PASID
  std::uint32_t pt_id;  // in: IOAS or HWPT id; out: the HWPT actually attached
};
static_assert(sizeof(VfioDeviceAttachIommufdPt) == 12);

struct VfioDeviceDetachIommufdPt {  // struct vfio_device_detach_iommufd_pt
  std::uint32_t argsz;
  std::uint32_t flags;
};
static_assert(sizeof(VfioDeviceDetachIommufdPt) == 8);

}  // namespace aether::vfio::uapi
