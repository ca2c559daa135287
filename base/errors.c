/*
 * base/errors.c - the names of quire's error codes (quire_strerror, for every module) and the
 * library version (the contract is in quire/error.h).
 *
 * Every QUIRE_E* code in quire/error.h has a sentence here; tests/scripts/errors_named.sh checks
 * that no code is left unnamed.
 */
#include "quire/error.h"

const char *quire_strerror(int err) {
    switch ((enum quire_error)err) {
    case QUIRE_OK:
        return "success";
    case QUIRE_EINVAL:
        return "invalid argument";
    case QUIRE_ENOMEM:
        return "out of memory or address space";
    case QUIRE_EOVERFLOW:
        return "size computation overflowed";
    case QUIRE_ENOTSUP:
        return "not supported by this kernel or architecture";
    case QUIRE_EPERM:
        return "operation not permitted by the system";
    case QUIRE_ENOENT:
        return "no such file";
    case QUIRE_EEXIST:
        return "file already exists";
    case QUIRE_EIO:
        return "input/output error";
    case QUIRE_ENOSPC:
        return "no space left on device";
    case QUIRE_EBUSY:
        return "resource busy: locked by another user";
    case QUIRE_ERANGE:
        return "offset or index out of range";
    case QUIRE_ESTATE:
        return "object is not in a state that allows this operation";
    case QUIRE_EMFILE:
        return "too many open files or mappings";
    case QUIRE_EAGAIN:
        return "temporarily unavailable, try again";
    case QUIRE_EOS:
        return "unexpected operating-system error";
    case QUIRE_EACCES:
        return "access denied";
    case QUIRE_EFBIG:
        return "file or mapping too large";
    case QUIRE_ESEALED:
        return "region is sealed and cannot be changed";
    case QUIRE_ECONSUMED:
        return "handle was already consumed or freed";
    case QUIRE_EFILESIZE:
        return "file size does not fit the layout";
    case QUIRE_EPAGESIZE:
        return "invalid page size, or different from the file's";
    case QUIRE_ESUPER:
        return "no valid superblock: file corrupt or not a pager file";
    case QUIRE_EMETA:
        return "both metadata copies are corrupt";
    case QUIRE_EBOUNDS:
        return "page id out of bounds";
    case QUIRE_ERESERVED:
        return "page id names a reserved internal page";
    case QUIRE_EDOUBLEFREE:
        return "already free (double free)";
    case QUIRE_EUNAVAIL:
        return "pager unavailable after a failed remap or grow";
    case QUIRE_EMAGIC:
        return "not a quire file (bad magic)";
    case QUIRE_EVERSION:
        return "unsupported file format version";
    case QUIRE_ECHECKSUM:
        return "checksum mismatch: data corrupt";
    case QUIRE_ERDONLY:
        return "opened read-only";
    case QUIRE_EFULL:
        return "file reached its maximum size";
    case QUIRE_ENOTALLOC:
        return "page or slot is not allocated";
    case QUIRE_EHEAP:
        return "persistent heap structures are inconsistent";
    case QUIRE_ENOTFOUND:
        return "no object of that name";
    case QUIRE_EBADREF:
        return "reference does not name a live allocation";
    case QUIRE_ENAMETOOLONG:
        return "object name too long";
    case QUIRE_ETXN:
        return "transaction misuse or write outside a declared range";
    }
    return "unknown quire error";
}

const char *quire_version(void) {
    return QUIRE_VERSION_STRING;
}
