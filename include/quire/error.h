/*
 * quire/error.h - error codes, export macro and version of the quire library.
 *
 * Every quire function outside the malloc family returns an `int`: 0 on success or one of the
 * negative QUIRE_E* codes below. Each failure has a code of its own (quire never reuses errno
 * values for its own meanings, LMDB's stated regret); quire_strerror() names every code. Codes
 * are grouped by module. A code, once published, keeps its number.
 *
 * The malloc family (quire/alloc.h and the interposed malloc, free, ...) keeps POSIX semantics
 * instead: NULL and errno.
 */
#ifndef QUIRE_ERROR_H
#define QUIRE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/** Marks a function exported from libquire.so (everything else is hidden). */
#if defined(__GNUC__)
#define QUIRE_API __attribute__((visibility("default")))
#else
#define QUIRE_API
#endif

/*
 * Function attributes, spelled so that any C or C++ compiler parses the headers: GCC and clang
 * get the attribute where they know it (__has_attribute), every other compiler nothing. The
 * __name__ spellings keep working when a program defines a macro called malloc or format.
 *   QUIRE_ATTR_MALLOC          returns a new block that no other pointer aliases
 *   QUIRE_ATTR_ALLOC_SIZE(n)   the block has the size given by argument n (1-based)
 *   QUIRE_ATTR_ALLOC_SIZE2(n, m) ... by the product of arguments n and m
 *   QUIRE_ATTR_ALLOC_ALIGN(n)  the block is aligned to argument n
 *   QUIRE_ATTR_NODISCARD       ignoring the result is a bug (a leak, or an unchecked failure)
 *   QUIRE_ATTR_PRINTF(f, a)    argument f is a printf format, the values start at argument a
 * QUIRE_NO_MALLOC_ATTRIBUTE, defined, leaves QUIRE_ATTR_MALLOC empty: the Makefile defines it for
 * alloc/, whose hidden aliases of the quire_malloc family (alloc/api.c) do not carry the
 * attribute (GCC's -Wmissing-attributes; the aliases would need __attribute__((copy(...)))).
 */
#if defined(__has_attribute)
#define QUIRE_HAS_ATTRIBUTE_(x) __has_attribute(x)
#else
#define QUIRE_HAS_ATTRIBUTE_(x) 0
#endif
#if QUIRE_HAS_ATTRIBUTE_(__malloc__) && !defined(QUIRE_NO_MALLOC_ATTRIBUTE)
#define QUIRE_ATTR_MALLOC __attribute__((__malloc__))
#else
#define QUIRE_ATTR_MALLOC
#endif
#if QUIRE_HAS_ATTRIBUTE_(__alloc_size__)
#define QUIRE_ATTR_ALLOC_SIZE(n)     __attribute__((__alloc_size__(n)))
#define QUIRE_ATTR_ALLOC_SIZE2(n, m) __attribute__((__alloc_size__(n, m)))
#else
#define QUIRE_ATTR_ALLOC_SIZE(n)
#define QUIRE_ATTR_ALLOC_SIZE2(n, m)
#endif
#if QUIRE_HAS_ATTRIBUTE_(__alloc_align__)
#define QUIRE_ATTR_ALLOC_ALIGN(n) __attribute__((__alloc_align__(n)))
#else
#define QUIRE_ATTR_ALLOC_ALIGN(n)
#endif
#if QUIRE_HAS_ATTRIBUTE_(__warn_unused_result__)
#define QUIRE_ATTR_NODISCARD __attribute__((__warn_unused_result__))
#else
#define QUIRE_ATTR_NODISCARD
#endif
#if QUIRE_HAS_ATTRIBUTE_(__format__)
#define QUIRE_ATTR_PRINTF(f, a) __attribute__((__format__(__printf__, f, a)))
#else
#define QUIRE_ATTR_PRINTF(f, a)
#endif

/*
 * The version: these three numbers are the only place it is written. The Makefile reads them
 * for the shared libraries' names (libquire.so.MAJOR.MINOR.PATCH, soname libquire.so.MAJOR) and
 * the pkg-config files; QUIRE_VERSION_STRING and quire_version() are made from them.
 */
#define QUIRE_VERSION_MAJOR    0
#define QUIRE_VERSION_MINOR    1
#define QUIRE_VERSION_PATCH    0
#define QUIRE_VERSION_STR_(x)  #x
#define QUIRE_VERSION_XSTR_(x) QUIRE_VERSION_STR_(x)
/** "MAJOR.MINOR.PATCH", e.g. "0.1.0". */
#define QUIRE_VERSION_STRING                                                                       \
    QUIRE_VERSION_XSTR_(QUIRE_VERSION_MAJOR)                                                       \
    "." QUIRE_VERSION_XSTR_(QUIRE_VERSION_MINOR) "." QUIRE_VERSION_XSTR_(QUIRE_VERSION_PATCH)

/**
 * Error codes. 0 is success; every failure is negative. The base sits far from errno values so
 * that a quire code is never mistaken for a negated errno.
 */
enum quire_error {
    QUIRE_OK = 0,

    /* -- general (1000..1049) ---------------------------------------------------------------- */
    QUIRE_EINVAL = -1000,    /**< an argument is invalid (NULL handle, zero size, bad flag) */
    QUIRE_ENOMEM = -1001,    /**< the system is out of memory or address space */
    QUIRE_EOVERFLOW = -1002, /**< a size computation overflowed */
    QUIRE_ENOTSUP = -1003,   /**< the kernel or architecture lacks the feature */
    QUIRE_EPERM = -1004,     /**< the system refused the operation (permissions, policy) */
    QUIRE_ENOENT = -1005,    /**< a file does not exist */
    QUIRE_EEXIST = -1006,    /**< a file exists where a new one was to be created */
    QUIRE_EIO = -1007,       /**< an I/O error (read, write, sync) */
    QUIRE_ENOSPC = -1008,    /**< no space left on the device */
    QUIRE_EBUSY = -1009,     /**< the resource is locked by someone else */
    QUIRE_ERANGE = -1010,    /**< an offset or index is outside the object */
    QUIRE_ESTATE = -1011,    /**< the object is not in a state that allows the operation */
    QUIRE_EMFILE = -1012,    /**< too many open files or mappings */
    QUIRE_EAGAIN = -1013,    /**< temporarily unavailable; the same call may succeed later */
    QUIRE_EOS = -1014,       /**< an unexpected operating-system error (see errno) */
    QUIRE_EACCES = -1015,    /**< access to a file was denied */
    QUIRE_EFBIG = -1016,     /**< a file or mapping would exceed a system limit */

    /* -- pages layer (1050..1099) ------------------------------------------------------------ */
    QUIRE_ESEALED = -1050,   /**< the region is sealed (mseal) and cannot change */
    QUIRE_ECONSUMED = -1051, /**< the handle was consumed by a transition or freed */
    QUIRE_EFILESIZE = -1052, /**< a file's size does not fit the requested layout */

    /* -- pager (1100..1149) ------------------------------------------------------------------ */
    QUIRE_EPAGESIZE = -1100,   /**< invalid page size, or it differs from the file's */
    QUIRE_ESUPER = -1101,      /**< no superblock copy validates (corrupt or not a pager file) */
    QUIRE_EMETA = -1102,       /**< both metadata copies are corrupt */
    QUIRE_EBOUNDS = -1103,     /**< page id outside the file */
    QUIRE_ERESERVED = -1104,   /**< page id names an internal (reserved) page */
    QUIRE_EDOUBLEFREE = -1105, /**< page or slot is already free */
    QUIRE_EUNAVAIL = -1106,    /**< pager unusable after a failed remap or grow; close it */
    QUIRE_EMAGIC = -1107,      /**< the file is not a quire file (wrong magic) */
    QUIRE_EVERSION = -1108,    /**< the file's format version is not supported */
    QUIRE_ECHECKSUM = -1109,   /**< a checksum does not match: the data is corrupt */
    QUIRE_ERDONLY = -1110,     /**< a write was attempted on a read-only open */
    QUIRE_EFULL = -1111,       /**< the file reached its maximum size */
    QUIRE_ENOTALLOC = -1112,   /**< the page, protected page or slot is not allocated */

    /* -- persistent heap (1150..1199) -------------------------------------------------------- */
    QUIRE_EHEAP = -1150,        /**< the heap structures are inconsistent (corrupt heap file) */
    QUIRE_ENOTFOUND = -1151,    /**< no object of that name */
    QUIRE_EBADREF = -1152,      /**< the reference does not name a live allocation */
    QUIRE_ENAMETOOLONG = -1153, /**< an object name is too long */
    QUIRE_ETXN = -1154,         /**< a write outside a declared range, or a transaction misuse */

    /* -- 1200..1249: the malloc engine's (the malloc family itself reports through errno) -- */
};

/**
 * @brief Names an error code.
 * @param err a QUIRE_E* code, 0, or anything else.
 * @return a static, constant English sentence; never NULL. Unknown codes give
 *         "unknown quire error". Never allocates.
 */
QUIRE_API const char *quire_strerror(int err);

/**
 * @brief The library's version string, e.g. "0.1.0".
 * @return a static string; never NULL.
 */
QUIRE_API const char *quire_version(void);

#ifdef __cplusplus
}
#endif
#endif /* QUIRE_ERROR_H */
