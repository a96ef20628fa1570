#pragma once

// Set in builds with AddressSanitizer, which brings LeakSanitizer.
#if defined(__SANITIZE_ADDRESS__)
#define POP3D_LEAK_CHECKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POP3D_LEAK_CHECKS 1
#endif
#endif

namespace pop3d {

#ifdef POP3D_LEAK_CHECKS
inline constexpr bool kBuiltWithLeakChecks = true;
#else
inline constexpr bool kBuiltWithLeakChecks = false;
#endif

// Ends a forked child (worker, privileged helper, mail agent) without
// running the master's atexit handlers or destructors, which belong to the
// master. In a build with LeakSanitizer it first runs the leak check that
// _exit would skip, so leaks in children are reported as the master's are.
[[noreturn]] void exit_forked_child(int code);

}  // namespace pop3d
