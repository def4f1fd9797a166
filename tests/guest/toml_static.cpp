// toml++'s compiled part, for the static guest binaries only.
//
// Debian 12 ships toml++ 3.3 as a shared library (libtomlplusplus.so)
// without an archive, and the runtime's config reader (src/runtime/
// config_toml.cpp) uses its non-inline functions; `aether echo` and `aether
// ping` now run on the runtime, so the static CLI links them. toml++ emits
// its implementation in the translation unit that defines
// TOML_IMPLEMENTATION (toml++/impl/preprocessor.h); the ABI switches match
// what tomlplusplus::tomlplusplus gives its users (TOML_HEADER_ONLY=0,
// TOML_SHARED_LIB=1, set on this target).
#define TOML_IMPLEMENTATION
#include <toml++/toml.h>
