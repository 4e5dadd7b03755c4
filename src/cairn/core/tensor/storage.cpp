#include "cairn/core/tensor/storage.h"

#include "cairn/core/tensor/error.h"

namespace cairn {

Storage::Storage(size_t nbytes, DeviceType device) : nbytes_(nbytes), device_(device) {
  CAIRN_CHECK(device == DeviceType::CPU, Error, "no allocator for device ", device_name(device),
              ": this build of Cairn has only the CPU backend");
  allocator_ = &cpu_allocator();
  data_ = allocator_->allocate(nbytes);
}

Storage::Storage(void* data, size_t nbytes, std::function<void(void*)> release, DeviceType device)
    : data_(data), nbytes_(nbytes), device_(device), release_(std::move(release)) {}

Storage::~Storage() {
  if (allocator_) allocator_->deallocate(data_, nbytes_);
  else if (release_) release_(data_);
}

}  // namespace cairn
