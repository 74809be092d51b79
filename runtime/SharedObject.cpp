//===- SharedObject.cpp - dlopen'ed shared objects ------------------------===//

#include "runtime/SharedObject.h"

#include <cstring>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <link.h>
#endif

using namespace moe;

namespace {
/// dlerror()'s message, which also clears it.
std::string lastDlError() {
  const char *text = dlerror();
  return text ? text : "unknown dlopen error";
}

/// The size in bytes of the symbol at `address` named `name`, when the
/// dynamic symbol table records it (0 otherwise).
size_t symbolSize(const void *address, const std::string &name) {
#if defined(__GLIBC__)
  Dl_info info;
  void *entry = nullptr; // a const ElfW(Sym) *
  if (dladdr1(address, &info, &entry, RTLD_DL_SYMENT) && entry &&
      info.dli_saddr == address && info.dli_sname && name == info.dli_sname)
    return static_cast<const ElfW(Sym) *>(entry)->st_size;
#endif
  return 0;
}
} // namespace

Expected<std::shared_ptr<SharedObject>>
SharedObject::open(const std::string &path) {
  // dlopen searches the library path for names without a '/': a user who
  // names "model.so" means the file in the working directory.
  std::string name = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void *handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return Status::failure("cannot load: ", lastDlError());
  return std::shared_ptr<SharedObject>(new SharedObject(handle));
}

SharedObject::~SharedObject() { dlclose(handle); }

Expected<void *> SharedObject::symbol(const std::string &name) const {
  dlerror();
  void *address = dlsym(handle, name.c_str());
  if (!address)
    return Status::failure("missing symbol ", quote(name), ": ", lastDlError());
  return address;
}

Expected<std::string_view>
SharedObject::cString(const std::string &name) const {
  Expected<void *> address = symbol(name);
  if (!address)
    return address.status();
  const char *text = static_cast<const char *>(*address);
  if (size_t size = symbolSize(text, name)) {
    size_t length = strnlen(text, size);
    if (length == size)
      return Status::failure("symbol ", quote(name), " (", size,
                             " bytes) is not NUL-terminated");
    return std::string_view(text, length);
  }
  return std::string_view(text);
}
