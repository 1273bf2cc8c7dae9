/* safefile.h - open and create a daemon's files without following symbolic links, under checked
 * directories. */
#ifndef QUN_SAFEFILE_H
#define QUN_SAFEFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * A daemon started as root writes files (its log, its pid file; later its
 * store and keys) at paths an operator chose.  If another user can put a
 * symbolic link or a file of theirs at such a path, root writes where
 * that user wants (THREATS.md S22).  So these helpers:
 *
 *   - trust a directory only if it belongs to root, to the effective uid
 *     or to `user` (the account the daemon becomes with -u; (uid_t)-1 for
 *     none), and others (neither owner nor group) cannot write to it
 *     unless its sticky bit is set, as on /tmp, where nobody can rename or
 *     remove another user's file.  A group-writable directory is trusted:
 *     its group is the administrator's choice (/var/log is root:syslog
 *     0775 on some systems);
 *   - check every directory from / down to the file's, each opened from
 *     the one before it (openat with O_NOFOLLOW), so that what is checked
 *     is what is used.  A symbolic link among the directories (/var/run
 *     -> /run) is followed only because the directory holding it passed
 *     the check: only a trusted user could have put it there.  The last
 *     component is never followed;
 *   - never report success for a path they did not check.
 *
 * Relative paths are taken from the current directory.  Every function
 * returns -1 on failure with "PATH: reason" in err (PATH as given), saying
 * what to change where the fix is the operator's.
 */

/* Check the directories leading to path (path's own last component is not looked at). */
int safefile_check_dir(const char *path, uid_t user, char *err, size_t errlen);

/*
 * Open path with flags: O_RDONLY, O_WRONLY or O_RDWR, with O_APPEND,
 * O_TRUNC and O_CREAT as wanted; O_NOFOLLOW, O_CLOEXEC and O_NOCTTY are
 * always added.  The directories are checked first.  With O_CREAT a
 * missing file is created with mode (less the umask), and *created says
 * whether this call created it (so the caller knows whether the file is
 * its own to hand over, e.g. chown).  What is opened must be a regular
 * file with exactly one link (no other name through which it is someone
 * else's), owned by a trusted owner as above; O_TRUNC is applied only
 * after these checks.  Returns the (blocking) descriptor.
 */
int safefile_open(const char *path, int flags, mode_t mode, uid_t user, int *created, char *err,
                  size_t errlen);

/*
 * Make sure the directory dir exists and can be trusted.  Its parent is
 * checked first; a missing dir is created (the last level only) with
 * exactly mode, whatever the umask, and given to user:group unless user
 * is (uid_t)-1.  An existing one is not changed, only checked (with
 * everything above it): one owned by another user, or writable by others
 * without the sticky bit, is refused.  *created (may be NULL) says
 * whether this call made it.
 */
int safefile_mkdir(const char *dir, mode_t mode, uid_t user, gid_t group, int *created, char *err,
                   size_t errlen);

#endif
