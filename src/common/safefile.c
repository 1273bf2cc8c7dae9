/* safefile.c - open and create a daemon's files without following symbolic links, under checked
 * directories (see safefile.h for the rules). */
#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Symbolic links followed in one walk before giving up, as the kernel's own limit. */
#define MAX_LINKS 40

/* The directory a walk has reached: checked, held open (O_PATH), and its name with links resolved.
 */
struct walk {
	int fd;
	char path[PATH_MAX];
};

static int trusted_owner(uid_t owner, uid_t user)
{
	return owner == 0 || owner == geteuid() || (user != (uid_t)-1 && owner == user);
}

/* "uid 1001 (mallory)", or "uid 1001" for a uid without an account. */
static void describe_uid(uid_t uid, char *out, size_t size)
{
	const struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(out, size, "uid %ld (%s)", (long)uid, pw->pw_name);
	else
		snprintf(out, size, "uid %ld", (long)uid);
}

/* The trusted owners in words: "root", "root or uid 65534 (nobody)", ... */
static void describe_trusted(uid_t user, char *out, size_t size)
{
	char a[96] = "", b[96] = "";
	uid_t self = geteuid();

	if (self != 0)
		describe_uid(self, a, sizeof a);
	if (user != (uid_t)-1 && user != 0 && user != self)
		describe_uid(user, b, sizeof b);
	if (a[0] != '\0' && b[0] != '\0')
		snprintf(out, size, "root, %s or %s", a, b);
	else if (a[0] != '\0' || b[0] != '\0')
		snprintf(out, size, "root or %s", a[0] != '\0' ? a : b);
	else
		snprintf(out, size, "root");
}

/*
 * Is st, the directory dir on the way to file, one to trust?  -1 with the
 * reason in err if not ("FILE: " in front unless file is dir itself).
 */
static int check_dir(const struct stat *st, const char *file, const char *dir, uid_t user,
                     char *err, size_t errlen)
{
	char who[96], trusted[256];
	const char *sep = ": ";

	if (strcmp(file, dir) == 0)
		file = sep = "";
	if (!S_ISDIR(st->st_mode)) {
		snprintf(err, errlen, "%s%s%s is not a directory", file, sep, dir);
		return -1;
	}
	if (!trusted_owner(st->st_uid, user)) {
		describe_uid(st->st_uid, who, sizeof who);
		describe_trusted(user, trusted, sizeof trusted);
		snprintf(err, errlen,
		         "%s%sdirectory %s belongs to %s, not to %s: its owner could swap the "
		         "files in it, so it is not used",
		         file, sep, dir, who, trusted);
		return -1;
	}
	if ((st->st_mode & S_IWOTH) != 0 && (st->st_mode & S_ISVTX) == 0) {
		snprintf(err, errlen,
		         "%s%sdirectory %s is writable by every user and has no sticky bit: anyone "
		         "could swap the files in it, so it is not used (chmod o-w or chmod +t it)",
		         file, sep, dir);
		return -1;
	}
	return 0;
}

/* Restart w at "/", checked.  w->fd is closed first if open. */
static int walk_root(struct walk *w, const char *file, uid_t user, char *err, size_t errlen)
{
	struct stat st;
	int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: /: %s", file, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (check_dir(&st, file, "/", user, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	snprintf(w->path, sizeof w->path, "/");
	return 0;
}

/* Step w into fd (whose stat is st), the directory name below it (".." for its parent), once
 * checked.  fd is w's from then on, or closed on failure. */
static int walk_into(struct walk *w, int fd, const struct stat *st, const char *name,
                     const char *file, uid_t user, char *err, size_t errlen)
{
	char next[PATH_MAX];
	char *slash;
	int n;

	if (strcmp(name, "..") == 0) {
		snprintf(next, sizeof next, "%s", w->path);
		slash = strrchr(next, '/');
		if (slash != NULL && slash != next)
			*slash = '\0';
		else
			snprintf(next, sizeof next, "/");
	} else {
		n = snprintf(next, sizeof next, "%s%s%s", w->path, strcmp(w->path, "/") ? "/" : "",
		             name);
		if (n < 0 || (size_t)n >= sizeof next) {
			snprintf(err, errlen, "%s: %s", file, strerror(ENAMETOOLONG));
			close(fd);
			return -1;
		}
	}
	if (check_dir(st, file, next, user, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	close(w->fd);
	w->fd = fd;
	memcpy(w->path, next, strlen(next) + 1);
	return 0;
}

/*
 * Walk from "/" down the directories of dir (absolute), checking each;
 * file is the path named in messages.  On success w->fd is dir, open
 * (O_PATH), for the caller to close.
 */
static int walk_dirs(struct walk *w, const char *dir, const char *file, uid_t user, char *err,
                     size_t errlen)
{
	char todo[PATH_MAX], name[NAME_MAX + 1], target[PATH_MAX], next[PATH_MAX];
	struct stat st;
	const char *p;
	size_t n;
	ssize_t k;
	int fd, links = 0;

	w->fd = -1;
	if (strlen(dir) >= sizeof todo) {
		snprintf(err, errlen, "%s: %s", file, strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(todo, dir, strlen(dir) + 1);
	if (walk_root(w, file, user, err, errlen) < 0)
		return -1;
	p = todo;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return 0;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			snprintf(err, errlen, "%s: %s", file, strerror(ENAMETOOLONG));
			break;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		p += n;
		if (strcmp(name, ".") == 0)
			continue;
		fd = openat(w->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			if (fd >= 0)
				close(fd);
			break;
		}
		if (!S_ISLNK(st.st_mode)) {
			if (walk_into(w, fd, &st, name, file, user, err, errlen) < 0)
				break;
			continue;
		}
		k = readlinkat(fd, "", target, sizeof target);
		close(fd);
		if (k < 0) {
			snprintf(err, errlen, "%s: %s", file, strerror(errno));
			break;
		}
		/*
		 * A link, in a directory that passed: only a trusted user could
		 * have put it there.  Its target goes in front of what is left.
		 */
		if (++links > MAX_LINKS) {
			snprintf(err, errlen, "%s: %s", file, strerror(ELOOP));
			break;
		}
		if ((size_t)k >= sizeof target ||
		    snprintf(next, sizeof next, "%.*s/%s", (int)k, target, p) >= (int)sizeof next) {
			snprintf(err, errlen, "%s: %s", file, strerror(ENAMETOOLONG));
			break;
		}
		memcpy(todo, next, strlen(next) + 1);
		p = todo;
		if (todo[0] == '/' && walk_root(w, file, user, err, errlen) < 0)
			break;
	}
	close(w->fd);
	w->fd = -1;
	return -1;
}

/*
 * Split path into the absolute directory to walk (dir) and the last
 * component (base), which must name something: not "", ".", "..".
 */
static int split_path(const char *path, char *dir, size_t dirsize, char *base, size_t basesize,
                      char *err, size_t errlen)
{
	char cwd[PATH_MAX];
	const char *slash = strrchr(path, '/'), *last = slash != NULL ? slash + 1 : path;
	size_t dlen = slash != NULL ? (size_t)(slash - path) : 0;
	int n;

	if (last[0] == '\0' || strcmp(last, ".") == 0 || strcmp(last, "..") == 0) {
		snprintf(err, errlen, "%s: does not end in a name", path);
		return -1;
	}
	if (strlen(last) >= basesize) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	memcpy(base, last, strlen(last) + 1);
	if (path[0] == '/') {
		n = dlen > 0 ? snprintf(dir, dirsize, "%.*s", (int)dlen, path)
		             : snprintf(dir, dirsize, "/");
	} else {
		if (getcwd(cwd, sizeof cwd) == NULL) {
			snprintf(err, errlen, "%s: getcwd: %s", path, strerror(errno));
			return -1;
		}
		n = snprintf(dir, dirsize, "%s/%.*s", cwd, (int)dlen, path);
	}
	if (n < 0 || (size_t)n >= dirsize) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
		return -1;
	}
	return 0;
}

int safefile_check_dir(const char *path, uid_t user, char *err, size_t errlen)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	struct walk w;

	if (split_path(path, dir, sizeof dir, base, sizeof base, err, errlen) < 0 ||
	    walk_dirs(&w, dir, path, user, err, errlen) < 0)
		return -1;
	close(w.fd);
	return 0;
}

/* Open base in the walked directory dfd: created with O_EXCL, or existing, never through a link. */
static int open_in(int dfd, const char *base, int flags, mode_t mode, int *created)
{
	int fd = -1, tries;

	for (tries = 0; tries < 5; tries++) {
		if (flags & O_CREAT) {
			fd = openat(dfd, base, (flags & ~O_CREAT) | O_CREAT | O_EXCL, mode);
			if (fd >= 0) {
				*created = 1;
				return fd;
			}
			if (errno != EEXIST)
				return -1;
		}
		fd = openat(dfd, base, flags & ~O_CREAT);
		/* Removed between the two calls: try again to create it. */
		if (fd >= 0 || errno != ENOENT || !(flags & O_CREAT))
			return fd;
	}
	return fd;
}

/*
 * Is fd, just opened at path, a file to use?  A regular file, one link, a
 * trusted owner.  Then blocking again, and truncated if flags ask.
 */
static int check_file(int fd, const char *path, int flags, uid_t user, char *err, size_t errlen)
{
	char who[96], trusted[256];
	struct stat st;
	int fl;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		return -1;
	}
	if (st.st_nlink != 1) {
		snprintf(err, errlen,
		         "%s has %lu names (hard links): refusing a file that may be another's",
		         path, (unsigned long)st.st_nlink);
		return -1;
	}
	if (!trusted_owner(st.st_uid, user)) {
		describe_uid(st.st_uid, who, sizeof who);
		describe_trusted(user, trusted, sizeof trusted);
		snprintf(err, errlen, "%s belongs to %s, not to %s: refusing to use it", path, who,
		         trusted);
		return -1;
	}
	if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    ((flags & O_TRUNC) && ftruncate(fd, 0) < 0)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int safefile_open(const char *path, int flags, mode_t mode, uid_t user, int *created, char *err,
                  size_t errlen)
{
	char dir[PATH_MAX], base[NAME_MAX + 1];
	struct walk w;
	int fd, e, how;

	*created = 0;
	if (split_path(path, dir, sizeof dir, base, sizeof base, err, errlen) < 0 ||
	    walk_dirs(&w, dir, path, user, err, errlen) < 0)
		return -1;
	/*
	 * O_NONBLOCK so that a FIFO put in the file's place cannot hang us in
	 * open(); O_TRUNC waits until the file has passed.
	 */
	how = (flags & ~O_TRUNC) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	fd = open_in(w.fd, base, how, mode, created);
	e = errno;
	close(w.fd);
	if (fd < 0) {
		if (e == ELOOP)
			snprintf(err, errlen, "%s is a symbolic link: refusing to follow it", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	if (check_file(fd, path, flags, user, err, errlen) < 0) {
		close(fd);
		*created = 0;
		return -1;
	}
	return fd;
}

int safefile_mkdir(const char *dir, mode_t mode, uid_t user, gid_t group, int *created, char *err,
                   size_t errlen)
{
	char parent[PATH_MAX], base[NAME_MAX + 1], full[PATH_MAX];
	struct walk w;
	int fd, n, made = 0;

	if (created != NULL)
		*created = 0;
	if (split_path(dir, parent, sizeof parent, base, sizeof base, err, errlen) < 0)
		return -1;
	n = snprintf(full, sizeof full, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", base);
	if (n < 0 || (size_t)n >= sizeof full) {
		snprintf(err, errlen, "%s: %s", dir, strerror(ENAMETOOLONG));
		return -1;
	}
	if (walk_dirs(&w, parent, dir, user, err, errlen) < 0)
		return -1;
	if (mkdirat(w.fd, base, mode) == 0) {
		made = 1;
		/* Exactly mode, whatever the umask; then the owner the caller wants. */
		fd = openat(w.fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchmod(fd, mode) < 0 ||
		    (user != (uid_t)-1 && fchown(fd, user, group) < 0)) {
			snprintf(err, errlen, "%s: %s", dir, strerror(errno));
			if (fd >= 0)
				close(fd);
			close(w.fd);
			return -1;
		}
		close(fd);
	} else if (errno != EEXIST) {
		snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
		close(w.fd);
		return -1;
	}
	close(w.fd);
	/* Whatever is there now, made by us or found, must pass as the rest did. */
	if (walk_dirs(&w, full, dir, user, err, errlen) < 0)
		return -1;
	close(w.fd);
	if (created != NULL)
		*created = made;
	return 0;
}
