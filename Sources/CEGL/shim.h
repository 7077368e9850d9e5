// EGL's types, constants and function-pointer types (Debian: libegl-dev). Nothing is linked:
// Render opens libEGL.so.1 at run time, so the trpo binary starts without it.
#include <EGL/egl.h>
#include <EGL/eglext.h>
