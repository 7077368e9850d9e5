#if canImport(Glibc)
import Glibc
#endif
@preconcurrency import CEGL
import Synchronization

/// A desktop OpenGL context with no window and no display server: EGL on Mesa's
/// *surfaceless* platform (`EGL_MESA_platform_surfaceless`), rendering on the CPU with
/// llvmpipe when there is no GPU. MuJoCo draws into its own offscreen framebuffer, so the
/// context needs no surface.
///
/// `libEGL.so.1` is opened at run time rather than linked, so a machine without it still runs
/// every other command; creating a context there throws ``RenderError/noGLContext(reason:)``.
/// MuJoCo 2.2.2 finds the GL functions through `eglGetProcAddress`, which the library,
/// opened with `RTLD_GLOBAL`, puts in the process's global scope.
///
/// A context is current on one thread at a time: call ``makeCurrent()`` on the thread that
/// renders, before each frame. Contexts may be made and dropped on several threads at once:
/// they share the process's one surfaceless display, which is initialised with the first
/// live context and terminated with the last (``liveContexts``), never under another's feet.
public final class HeadlessGLContext {
    private let egl: EGLFunctions
    private let display: EGLDisplay
    private let context: EGLContext

    /// Contexts alive in the process; creating and destroying one happens under this lock.
    private static let liveContexts = Mutex(0)

    /// The EGL version and vendor, e.g. `EGL 1.5 (Mesa Project), surfaceless`.
    public let description: String

    /// Creates the context and makes it current on the calling thread.
    /// - Throws: ``RenderError/noGLContext(reason:)`` naming the step that failed.
    public init() throws(RenderError) {
        let egl = try EGLFunctions.load()
        var major: EGLint = 0, minor: EGLint = 0
        let (display, context) = try Self.liveContexts.withLock { (live: inout Int) throws(RenderError) -> (EGLDisplay, EGLContext) in
            guard let display = egl.getPlatformDisplay(EGLenum(EGL_PLATFORM_SURFACELESS_MESA), nil, nil),
                  egl.initialize(display, &major, &minor) == EGL_TRUE
            else {
                throw .noGLContext(reason: "no EGL display on the surfaceless platform, EGL error \(egl.errorCode)")
            }
            // EGL_SURFACE_TYPE defaults to windows, which the surfaceless platform has none of.
            let attributes: [EGLint] = [EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT, EGL_NONE]
            var config: EGLConfig?
            var count: EGLint = 0
            guard egl.chooseConfig(display, attributes, &config, 1, &count) == EGL_TRUE, count > 0,
                  egl.bindAPI(EGLenum(EGL_OPENGL_API)) == EGL_TRUE
            else {
                if live == 0 { _ = egl.terminate(display) }
                throw .noGLContext(reason: "no EGL configuration for desktop OpenGL, EGL error \(egl.errorCode)")
            }
            guard let context = egl.createContext(display, config, nil, nil) else {
                if live == 0 { _ = egl.terminate(display) }
                throw .noGLContext(reason: "eglCreateContext failed, EGL error \(egl.errorCode)")
            }
            live += 1
            return (display, context)
        }
        self.egl = egl
        self.display = display
        self.context = context
        let vendor = egl.queryString(display, EGL_VENDOR).map { String(cString: $0) } ?? "unknown vendor"
        description = "EGL \(major).\(minor) (\(vendor)), surfaceless"
        try makeCurrent()
    }

    deinit {
        let (egl, display, context) = (egl, display, context)
        Self.liveContexts.withLock { live in
            _ = egl.makeCurrent(display, nil, nil, nil)
            _ = egl.destroyContext(display, context)
            live -= 1
            if live == 0 { _ = egl.terminate(display) }
        }
    }

    /// Makes the context current on the calling thread, with no draw or read surface.
    /// - Throws: ``RenderError/noGLContext(reason:)`` when EGL refuses.
    public func makeCurrent() throws(RenderError) {
        guard egl.makeCurrent(display, nil, nil, context) == EGL_TRUE else {
            throw .noGLContext(reason: "eglMakeCurrent failed, EGL error \(egl.errorCode)")
        }
    }
}

/// The EGL entry points, looked up in `libEGL.so.1` opened at run time.
private struct EGLFunctions {
    let getPlatformDisplay: PFNEGLGETPLATFORMDISPLAYPROC
    let initialize: PFNEGLINITIALIZEPROC
    let terminate: PFNEGLTERMINATEPROC
    let chooseConfig: PFNEGLCHOOSECONFIGPROC
    let bindAPI: PFNEGLBINDAPIPROC
    let createContext: PFNEGLCREATECONTEXTPROC
    let destroyContext: PFNEGLDESTROYCONTEXTPROC
    let makeCurrent: PFNEGLMAKECURRENTPROC
    let queryString: PFNEGLQUERYSTRINGPROC
    let getError: PFNEGLGETERRORPROC

    /// The last EGL error as hexadecimal, e.g. `0x3001` (`EGL_NOT_INITIALIZED`).
    var errorCode: String { "0x" + String(getError(), radix: 16) }

    /// Opens the library (once per process; it stays loaded) and resolves the functions.
    static func load() throws(RenderError) -> EGLFunctions {
        guard let library = dlopen("libEGL.so.1", RTLD_NOW | RTLD_GLOBAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw .noGLContext(reason: reason)
        }
        func symbol<F>(_ name: String, as type: F.Type) throws(RenderError) -> F {
            guard let address = dlsym(library, name) else {
                throw .noGLContext(reason: "libEGL.so.1 has no \(name) (EGL 1.5 is needed)")
            }
            return unsafeBitCast(address, to: type)
        }
        return EGLFunctions(
            getPlatformDisplay: try symbol("eglGetPlatformDisplay", as: PFNEGLGETPLATFORMDISPLAYPROC.self),
            initialize: try symbol("eglInitialize", as: PFNEGLINITIALIZEPROC.self),
            terminate: try symbol("eglTerminate", as: PFNEGLTERMINATEPROC.self),
            chooseConfig: try symbol("eglChooseConfig", as: PFNEGLCHOOSECONFIGPROC.self),
            bindAPI: try symbol("eglBindAPI", as: PFNEGLBINDAPIPROC.self),
            createContext: try symbol("eglCreateContext", as: PFNEGLCREATECONTEXTPROC.self),
            destroyContext: try symbol("eglDestroyContext", as: PFNEGLDESTROYCONTEXTPROC.self),
            makeCurrent: try symbol("eglMakeCurrent", as: PFNEGLMAKECURRENTPROC.self),
            queryString: try symbol("eglQueryString", as: PFNEGLQUERYSTRINGPROC.self),
            getError: try symbol("eglGetError", as: PFNEGLGETERRORPROC.self))
    }
}
