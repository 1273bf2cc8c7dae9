/* ipc.c - the messages between qun's UI and network processes: encoders and the decoder. Pure. */
#include "ipc.h"

#include <string.h>

/* A bounded writer: once something does not fit, ok stays 0 and nothing more is written. */
struct wr {
	unsigned char *p;
	size_t size, len;
	int ok;
};

static void wr_init(struct wr *w, void *buf, size_t size)
{
	w->p = buf;
	w->size = size < IPC_MAX ? size : IPC_MAX;
	w->len = 0;
	w->ok = buf != NULL;
}

static void put_bytes(struct wr *w, const void *src, size_t n)
{
	if (!w->ok || n > w->size - w->len) {
		w->ok = 0;
		return;
	}
	if (n > 0)
		memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u8(struct wr *w, unsigned v)
{
	unsigned char b = (unsigned char)v;

	put_bytes(w, &b, 1);
}

static void put_u16(struct wr *w, unsigned v)
{
	unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};

	put_bytes(w, b, 2);
}

static void put_u32(struct wr *w, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	                      (unsigned char)(v >> 8), (unsigned char)v};

	put_bytes(w, b, 4);
}

static void put_str(struct wr *w, const char *s, size_t n)
{
	if (n > IPC_STR_MAX || (n > 0 && s == NULL)) {
		w->ok = 0;
		return;
	}
	put_u16(w, (unsigned)n);
	put_bytes(w, s, n);
}

static int wr_done(const struct wr *w)
{
	return w->ok ? (int)w->len : -1;
}

int ipc_encode_line(void *buf, size_t size, enum ipc_line_kind kind, unsigned flags,
                    const char *name, size_t name_len, unsigned name_at, const char *text,
                    size_t text_len)
{
	struct wr w;

	if ((unsigned)kind >= IPC_LINE_KIND_COUNT || (flags & ~IPC_LINE_FLAGS_ALL) != 0)
		return -1;
	if (name_at != IPC_NO_NAME_AT &&
	    (name_len == 0 || name_at > text_len || name_len > text_len - name_at ||
	     memcmp(text + name_at, name, name_len) != 0))
		return -1;
	wr_init(&w, buf, size);
	put_u8(&w, IPC_LINE);
	put_u8(&w, kind);
	put_u8(&w, flags);
	put_u16(&w, name_at);
	put_str(&w, name, name_len);
	put_str(&w, text, text_len);
	return wr_done(&w);
}

/* A u16 count and that many names. */
static void put_names(struct wr *w, const char *const *names, size_t count)
{
	size_t i;

	if (count > 0xFFFF) {
		w->ok = 0;
		return;
	}
	put_u16(w, (unsigned)count);
	for (i = 0; i < count && w->ok; i++)
		put_str(w, names[i], strlen(names[i]));
}

int ipc_encode_who(void *buf, size_t size, enum ipc_who_status status, uint32_t total,
                   const char *room, size_t room_len, const char *const *names, size_t count)
{
	struct wr w;

	if ((unsigned)status >= IPC_WHO_STATUS_COUNT)
		return -1;
	wr_init(&w, buf, size);
	put_u8(&w, IPC_WHO);
	put_u8(&w, status);
	put_u32(&w, total);
	put_str(&w, room, room_len);
	put_names(&w, names, count);
	return wr_done(&w);
}

int ipc_encode_rooms(void *buf, size_t size, unsigned flags, const char *current,
                     size_t current_len, const char *const *names, size_t count)
{
	struct wr w;

	if ((flags & ~IPC_ROOMS_FLAGS_ALL) != 0)
		return -1;
	wr_init(&w, buf, size);
	put_u8(&w, IPC_ROOMS);
	put_u8(&w, flags);
	put_str(&w, current, current_len);
	put_names(&w, names, count);
	return wr_done(&w);
}

int ipc_encode_state(void *buf, size_t size, enum ipc_state state)
{
	struct wr w;

	if ((unsigned)state >= IPC_STATE_COUNT)
		return -1;
	wr_init(&w, buf, size);
	put_u8(&w, IPC_STATE);
	put_u8(&w, state);
	return wr_done(&w);
}

int ipc_encode_exited(void *buf, size_t size, enum ipc_exit how)
{
	struct wr w;

	if ((unsigned)how >= IPC_EXIT_COUNT)
		return -1;
	wr_init(&w, buf, size);
	put_u8(&w, IPC_EXITED);
	put_u8(&w, how);
	return wr_done(&w);
}

int ipc_encode_request(void *buf, size_t size, enum ipc_type type, const char *text, size_t len)
{
	struct wr w;

	wr_init(&w, buf, size);
	switch (type) {
	case IPC_SAY:
	case IPC_ME:
	case IPC_REPLY:
	case IPC_HISTORY:
	case IPC_SEARCH:
	case IPC_ASK_WHO:
	case IPC_JOIN:
	case IPC_PART:
		put_u8(&w, type);
		put_str(&w, len == 0 ? "" : text, len);
		break;
	case IPC_QUIT:
		if (text != NULL || len != 0)
			return -1;
		put_u8(&w, type);
		break;
	default:
		return -1;
	}
	return wr_done(&w);
}

int ipc_encode_list_rooms(void *buf, size_t size, int all)
{
	struct wr w;

	wr_init(&w, buf, size);
	put_u8(&w, IPC_LIST_ROOMS);
	put_u8(&w, all ? 1 : 0);
	return wr_done(&w);
}

int ipc_encode_tell(void *buf, size_t size, const char *name, size_t name_len, const char *text,
                    size_t text_len)
{
	struct wr w;

	wr_init(&w, buf, size);
	put_u8(&w, IPC_TELL);
	put_str(&w, name, name_len);
	put_str(&w, text, text_len);
	return wr_done(&w);
}

/* A bounded reader: the first field that is cut short makes short_ 1, and every later read fails.
 */
struct rd {
	const unsigned char *p;
	size_t len, at;
	int short_;
};

static int get_u8(struct rd *r, unsigned *v)
{
	if (r->short_ || r->len - r->at < 1) {
		r->short_ = 1;
		return -1;
	}
	*v = r->p[r->at++];
	return 0;
}

static int get_u16(struct rd *r, unsigned *v)
{
	if (r->short_ || r->len - r->at < 2) {
		r->short_ = 1;
		return -1;
	}
	*v = (unsigned)r->p[r->at] << 8 | r->p[r->at + 1];
	r->at += 2;
	return 0;
}

static int get_u32(struct rd *r, uint32_t *v)
{
	if (r->short_ || r->len - r->at < 4) {
		r->short_ = 1;
		return -1;
	}
	*v = (uint32_t)r->p[r->at] << 24 | (uint32_t)r->p[r->at + 1] << 16 |
	     (uint32_t)r->p[r->at + 2] << 8 | r->p[r->at + 3];
	r->at += 4;
	return 0;
}

static int get_str(struct rd *r, const char **s, size_t *n)
{
	unsigned len;

	if (get_u16(r, &len) < 0)
		return -1;
	if (r->len - r->at < len) {
		r->short_ = 1;
		return -1;
	}
	*s = (const char *)(r->p + r->at);
	*n = len;
	r->at += len;
	return 0;
}

static enum ipc_status decode_line(struct rd *r, struct ipc_msg *m)
{
	unsigned kind = 0, flags = 0, name_at = 0;

	get_u8(r, &kind);
	get_u8(r, &flags);
	get_u16(r, &name_at);
	get_str(r, &m->name, &m->name_len);
	get_str(r, &m->text, &m->text_len);
	if (r->short_)
		return IPC_SHORT;
	if (kind >= IPC_LINE_KIND_COUNT || (flags & ~IPC_LINE_FLAGS_ALL) != 0)
		return IPC_BAD_VALUE;
	if (name_at != IPC_NO_NAME_AT &&
	    (m->name_len == 0 || name_at > m->text_len || m->name_len > m->text_len - name_at ||
	     memcmp(m->text + name_at, m->name, m->name_len) != 0))
		return IPC_BAD_VALUE;
	m->kind = (enum ipc_line_kind)kind;
	m->flags = flags;
	m->name_at = name_at;
	return IPC_OK;
}

/* A u16 count and that many names, into m's count, names and names_len. */
static void get_names(struct rd *r, struct ipc_msg *m)
{
	unsigned count = 0, i;
	const char *s;
	size_t n, start;

	get_u16(r, &count);
	start = r->at;
	for (i = 0; i < count && !r->short_; i++)
		get_str(r, &s, &n);
	m->count = count;
	m->names = r->p + start;
	m->names_len = r->at - start;
}

static enum ipc_status decode_who(struct rd *r, struct ipc_msg *m)
{
	unsigned status = 0;

	get_u8(r, &status);
	get_u32(r, &m->total);
	get_str(r, &m->name, &m->name_len);
	get_names(r, m);
	if (r->short_)
		return IPC_SHORT;
	if (status >= IPC_WHO_STATUS_COUNT)
		return IPC_BAD_VALUE;
	m->who_status = (enum ipc_who_status)status;
	return IPC_OK;
}

static enum ipc_status decode_rooms(struct rd *r, struct ipc_msg *m)
{
	unsigned flags = 0;

	get_u8(r, &flags);
	get_str(r, &m->name, &m->name_len);
	get_names(r, m);
	if (r->short_)
		return IPC_SHORT;
	if ((flags & ~IPC_ROOMS_FLAGS_ALL) != 0)
		return IPC_BAD_VALUE;
	m->flags = flags;
	return IPC_OK;
}

/* A u8 field holding an enum with `count` values. */
static enum ipc_status decode_enum(struct rd *r, unsigned count, unsigned *v)
{
	if (get_u8(r, v) < 0)
		return IPC_SHORT;
	return *v < count ? IPC_OK : IPC_BAD_VALUE;
}

enum ipc_status ipc_decode(const void *buf, size_t len, struct ipc_msg *m)
{
	struct rd r = {.p = buf, .len = len, .at = 1, .short_ = 0};
	enum ipc_status st;
	unsigned v = 0;

	if (len == 0)
		return IPC_EMPTY;
	if (len > IPC_MAX)
		return IPC_TOO_LONG;
	memset(m, 0, sizeof *m);
	m->type = (enum ipc_type)r.p[0];
	switch (r.p[0]) {
	case IPC_LINE:
		st = decode_line(&r, m);
		break;
	case IPC_WHO:
		st = decode_who(&r, m);
		break;
	case IPC_STATE:
		st = decode_enum(&r, IPC_STATE_COUNT, &v);
		m->state = (enum ipc_state)v;
		break;
	case IPC_EXITED:
		st = decode_enum(&r, IPC_EXIT_COUNT, &v);
		m->how = (enum ipc_exit)v;
		break;
	case IPC_ROOMS:
		st = decode_rooms(&r, m);
		break;
	case IPC_SAY:
	case IPC_ME:
	case IPC_REPLY:
	case IPC_HISTORY:
	case IPC_SEARCH:
		st = get_str(&r, &m->text, &m->text_len) < 0 ? IPC_SHORT : IPC_OK;
		break;
	case IPC_ASK_WHO:
	case IPC_JOIN:
	case IPC_PART:
		st = get_str(&r, &m->name, &m->name_len) < 0 ? IPC_SHORT : IPC_OK;
		break;
	case IPC_TELL:
		get_str(&r, &m->name, &m->name_len);
		get_str(&r, &m->text, &m->text_len);
		st = r.short_ ? IPC_SHORT : IPC_OK;
		break;
	case IPC_LIST_ROOMS:
		st = decode_enum(&r, 2, &v);
		m->all = (int)v;
		break;
	case IPC_QUIT:
		st = IPC_OK;
		break;
	default:
		return IPC_BAD_TYPE;
	}
	if (st == IPC_OK && r.at != len)
		st = IPC_TRAILING;
	return st;
}

int ipc_who_next(const struct ipc_msg *m, size_t *pos, const char **name, size_t *len)
{
	struct rd r = {.p = m->names, .len = m->names_len, .at = *pos, .short_ = 0};

	if ((m->type != IPC_WHO && m->type != IPC_ROOMS) || *pos >= m->names_len ||
	    get_str(&r, name, len) < 0)
		return 0;
	*pos = r.at;
	return 1;
}

const char *ipc_status_str(enum ipc_status st)
{
	switch (st) {
	case IPC_OK:
		return "ok";
	case IPC_EMPTY:
		return "empty message";
	case IPC_TOO_LONG:
		return "message too long";
	case IPC_BAD_TYPE:
		return "unknown message type";
	case IPC_SHORT:
		return "message cut short";
	case IPC_TRAILING:
		return "bytes after the last field";
	case IPC_BAD_VALUE:
		return "value out of range";
	}
	return "unknown status";
}
