/* i18n.c - every user-visible text of qund and qun, in Chinese and English side by side. */
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

#include "text.h"

int lang_parse(const char *s, enum lang *out)
{
	if (strncmp(s, "zh", 2) == 0 &&
	    (s[2] == '\0' || s[2] == '_' || s[2] == '-' || s[2] == '.')) {
		*out = LANG_ZH;
		return 0;
	}
	if (strncmp(s, "en", 2) == 0 &&
	    (s[2] == '\0' || s[2] == '_' || s[2] == '-' || s[2] == '.')) {
		*out = LANG_EN;
		return 0;
	}
	return -1;
}

enum lang lang_from_env(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
	size_t i;

	/* The first variable that is set and non-empty decides, as setlocale() does. */
	for (i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		const char *v = getenv(vars[i]);

		if (v != NULL && *v != '\0')
			return strncmp(v, "zh", 2) == 0 ? LANG_ZH : LANG_EN;
	}
	return LANG_EN;
}

/*
 * [lang] pairs; index 0 Chinese, 1 English.  The reasons a login can be
 * refused for are kept short: qund sends a stranger at most three times
 * the bytes of its request (proto1.c, reply_budget), and the lesson's
 * clients never pad theirs, so "L alice" (7 bytes) has 21 to hear why.
 */
static const char *const name_reasons[][2] = {
    [NAME_OK] = {"名字可用", "name is fine"},
    [NAME_EMPTY] = {"名字不能为空", "name is empty"},
    [NAME_TOO_LONG] = {"名字太长（最多 32 字节）", "name too long (at most 32 bytes)"},
    [NAME_BAD_UTF8] = {"名字不是 UTF-8", "name is not UTF-8"},
    [NAME_SPACE] = {"名字不能含空格", "no spaces in names"},
    [NAME_CONTROL] = {"名字含不可见字符", "hidden character in name"},
    [NAME_RESERVED] = {"该名字已保留", "name is reserved"},
    [NAME_LOOKALIKE] = {"名字形似他人", "look-alike name"},
};

static const char *const text_reasons[][2] = {
    [TEXT_OK] = {"消息可用", "message is fine"},
    [TEXT_EMPTY] = {"消息不能为空", "message is empty"},
    [TEXT_TOO_LONG] = {"消息太长（最多 1000 字节）", "message too long (at most 1000 bytes)"},
    [TEXT_BAD_UTF8] = {"消息不是有效的 UTF-8", "message is not valid UTF-8"},
    [TEXT_CONTROL] = {"消息不能包含控制字符", "message must not contain control characters"},
};

static const char *const err_texts[][2] = {
    [QERR_NONE] = {"没有错误", "no error"},
    [QERR_NAME_TAKEN] = {"名字已被占用", "name already taken"},
    [QERR_NAME_INVALID] = {"名字无效", "invalid name"},
    [QERR_OTHER_NAME] = {"此地址已用另一个名字登录",
                         "this address is already logged in under another name"},
    [QERR_ROOM_FULL] = {"聊天室已满", "room is full"},
    [QERR_TEXT_INVALID] = {"消息无效", "invalid message"},
    [QERR_TOO_LONG] = {"数据报太长（最多 1200 字节）", "datagram too long (at most 1200 bytes)"},
    [QERR_BAD_REQUEST] = {"无法识别的请求", "malformed request"},
    [QERR_FLOOD] = {"发言太快，请稍后再说", "you are sending too fast; slow down"},
    [QERR_TOO_MANY] = {"此 IP 人数已满", "too many from this IP"},
    [QERR_BANNED] = {"你已被禁止进入聊天室", "you are banned from this room"},
    [QERR_MUTED] = {"你已被禁言", "you are muted"},
    [QERR_V1_BUSY] = {"v1 繁忙，请稍后", "v1 busy; try later"},
    [QERR_NO_SUCH_ROOM] = {"没有这个聊天室", "no such room"},
    [QERR_ROOM_LIMIT] = {"你加入的聊天室已经太多，请先退出一个",
                         "you are in too many rooms; leave one first"},
    [QERR_TOO_MANY_ROOMS] = {"服务器上的聊天室已经太多", "the server has too many rooms"},
    [QERR_ROOM_NAME] = {"聊天室名要以 # 开头，后跟 1 到 32 字节",
                        "a room's name is # and 1 to 32 bytes"},
    [QERR_NOT_ONLINE] = {"对方不在线", "no such member online"},
    [QERR_NO_PRIVATE] = {"对方的客户端收不到私信", "that member's client cannot receive private "
                                                   "messages"},
    [QERR_NOT_IN_ROOM] = {"你不在这个聊天室", "you are not in that room"},
    [QERR_ROOM_CLOSED] = {"管理员关闭了聊天室", "the operator closed the room"},
    [QERR_LOBBY_STAYS] = {"默认聊天室不能离开（/quit 退出服务器）",
                          "the default room cannot be left (/quit leaves the server)"},
    [QERR_STORE] = {"服务器的存储出错，暂时不能建立新聊天室",
                    "the server's store is failing: no new rooms for now"},
    [QERR_KEPT] = {"对方不在线：消息已保存，对方上线后送达",
                   "not online: the message is kept and delivered when they log in"},
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *qerr_text(enum lang lang, enum qerr err, int detail)
{
	int l = lang == LANG_ZH ? 0 : 1;

	if (err == QERR_ROOM_NAME && detail == NAME_TOO_LONG)
		return l == 0 ? "聊天室名太长" : "room name too long";
	if ((err == QERR_NAME_INVALID || err == QERR_ROOM_NAME) && detail > 0 &&
	    (size_t)detail < NELEM(name_reasons))
		return name_reasons[detail][l];
	if (err == QERR_TEXT_INVALID && detail > 0 && (size_t)detail < NELEM(text_reasons))
		return text_reasons[detail][l];
	if ((unsigned)err < NELEM(err_texts) && err_texts[err][l] != NULL)
		return err_texts[err][l];
	return err_texts[QERR_BAD_REQUEST][l];
}

static const char *const ui_texts[][2] = {
    [UI_ASK_NAME] = {"请输入姓名：", "Your name: "},
    [UI_WELCOME] = {"欢迎 %s 进入聊天室（输入 /help 查看帮助，/quit 退出）",
                    "Welcome, %s. Type /help for help, /quit to leave."},
    [UI_NO_REPLY] = {"服务器 %s 端口 %s 没有响应", "no reply from server %s port %s"},
    [UI_REFUSED] = {"登录被拒绝：%s", "login refused: %s"},
    [UI_QUIT_UNCONFIRMED] = {"服务器没有确认退出，已强制退出",
                             "the server did not confirm the quit; leaving anyway"},
    [UI_SERVER_CLOSED] = {"服务器已关闭", "the server has shut down"},
    [UI_KICKED] = {"你已被请出聊天室", "you were removed from the room"},
    [UI_TOO_LONG] = {"消息太长（%s 字节，最多 %s 字节），没有发送",
                     "message too long (%s bytes, at most %s): not sent"},
    [UI_BAD_INPUT] = {"没有发送：%s", "not sent: %s"},
    [UI_HELP] = {"命令：/help 显示本帮助，/who 谁在线（/who #聊天室：该聊天室的），"
                 "/me 动作 描述你的动作，/join #聊天室 加入并切换到聊天室，"
                 "/part [#聊天室] 离开聊天室，/rooms [all] 我的（或所有）聊天室，"
                 "/msg 名字 文字 发私信，/r 文字 回复私信，/history [条数] 更早的消息，"
                 "/search 词语 搜索我的聊天室，/quit 退出（或 quit、Ctrl-D、"
                 "Ctrl-C）；Tab 补全名字和聊天室；//文字 发送以 / 开头的文字；"
                 "其他内容发送到当前聊天室",
                 "commands: /help shows this help, /who lists who is online (/who #ROOM: in "
                 "that room), /me ACTION describes an action, /join #ROOM joins a room and "
                 "makes it current, /part [#ROOM] leaves a room, /rooms [all] lists my (or "
                 "every) room, /msg NAME TEXT sends a private message, /r TEXT answers the "
                 "last one, /history [N] shows earlier lines, /search WORDS searches my "
                 "rooms, /quit leaves (or quit, Ctrl-D, Ctrl-C); Tab completes names and "
                 "rooms; //TEXT sends a text that starts with /; anything else goes to the "
                 "current room"},
    [UI_UNKNOWN_CMD] = {"未知命令：%s（输入 /help 查看帮助）",
                        "unknown command: %s (type /help for help)"},
    [UI_LEFT] = {"已退出聊天室", "you have left the room"},
    [UI_RECONNECTING] = {"与服务器失去联系，正在重新连接……",
                         "lost contact with the server; reconnecting..."},
    [UI_RECONNECTED] = {"已重新连接", "reconnected"},
    [UI_NOTICE] = {"服务器：%s", "server: %s"},
    [UI_WHO] = {"在线 %s 人：%s", "%s online: %s"},
    [UI_WHO_PARTIAL] = {"在线 %s 人（名单没有收全）：%s",
                        "%s online (part of the list was lost): %s"},
    [UI_WHO_NO_REPLY] = {"服务器没有回答 /who", "the server did not answer /who"},
    [UI_ME_USAGE] = {"用法：/me 动作", "usage: /me ACTION"},
    [UI_NET_DIED] = {"网络进程意外结束", "the network process ended unexpectedly"},
    [UI_LOST] = {"有 %s 条消息来得太快，没能显示", "%s messages came too fast to be shown"},
    [UI_LEGACY_WARNING] =
        {"警告：--legacy 打开了协议 v1。v1 只凭来源地址认人：谁能伪造某个 v1 成员的地址，"
         "谁就能以他的名义发言和退出，不知道端口也能把所有端口挨个试一遍；v1 的内容在网络上"
         "是明文。v1 成员有人数上限（--max-v1）和登录速率限制，登录后既没发 P 也没说话的成员很快"
         "被请出。"
         "详见 qund(8)。",
         "warning: --legacy turns on protocol v1, which trusts source addresses: anyone "
         "who can forge a v1 member's address can speak and quit as that member, even "
         "blindly, by trying every port; v1 is clear text on the network. v1 members are "
         "capped (--max-v1), their logins rate-limited, and those that sent no P, C or A "
         "since logging in soon evicted. See qund(8)."},
    [UI_NO_ROOMS] = {"此服务器没有聊天室和私信功能",
                     "this server has no rooms or private messages"},
    [UI_JOIN_USAGE] = {"用法：/join #聊天室", "usage: /join #ROOM"},
    [UI_PART_USAGE] = {"用法：/part [#聊天室]", "usage: /part [#ROOM]"},
    [UI_ROOMS_USAGE] = {"用法：/rooms [all]", "usage: /rooms [all]"},
    [UI_WHO_USAGE] = {"用法：/who [#聊天室]", "usage: /who [#ROOM]"},
    [UI_MSG_USAGE] = {"用法：/msg 名字 文字", "usage: /msg NAME TEXT"},
    [UI_REPLY_USAGE] = {"用法：/r 文字", "usage: /r TEXT"},
    [UI_NO_REPLY_TO] = {"还没有人给你发过私信", "nobody has sent you a private message yet"},
    [UI_NOT_IN_ROOM] = {"你不在 %s", "you are not in %s"},
    [UI_BAD_ROOM] = {"无法加入：%s", "cannot join: %s"},
    [UI_ROOM_JOINED] = {"你加入了 %s（%s 人）", "you joined %s (members: %s)"},
    [UI_ROOM_PARTED] = {"你离开了 %s", "you left %s"},
    [UI_ROOMS_MINE] = {"你的聊天室：%s", "your rooms: %s"},
    [UI_ROOMS_ALL] = {"所有聊天室：%s", "all rooms: %s"},
    [UI_ROOM_LOST] = {"没能重新加入 %s", "could not rejoin %s"},
    [UI_UNSENT] = {"没有发送到 %s：没能重新加入", "not sent to %s: could not rejoin it"},
    [UI_UNSENT_GONE] = {"没有发送到 %s：你已不在该聊天室",
                        "not sent to %s: you are no longer in it"},
    [UI_UNSENT_NO_ROOMS] = {"没有发送给 %s：服务器现在没有私信功能",
                            "not sent to %s: the server has no private messages now"},
    [UI_UNSENT_QUIT] = {"发往 %s 的消息可能没有发出：服务器收下之前你已退出",
                        "a message to %s may not have gone: you left before the server took it"},
    [UI_UNSENT_JOIN] = {"没有发送到 %s：没能加入", "not sent to %s: could not join it"},
    [UI_ROOMS_FULL] = {"无法加入 %s：qun 最多保留 %s 个聊天室",
                       "cannot join %s: qun keeps at most %s rooms"},
    [UI_NO_ANSWER] = {"服务器没有回答 %s", "the server did not answer %s"},
    [UI_PRIVATE_FROM] = {"[私信] %s → 你：%s", "[private] %s → you: %s"},
    [UI_PRIVATE_TO] = {"[私信] 你 → %s：%s", "[private] you → %s: %s"},
    [UI_PRIVATE_STORED] = {"[私信 %s，你不在时] %s → 你：%s",
                           "[private, while you were away, %s] %s → you: %s"},
    [UI_HISTORY_MARK] = {"[历史 %s] ", "[history %s] "},
    [UI_HISTORY_END] = {"—— 以上为历史消息 ——", "—— end of history ——"},
    [UI_HISTORY_NONE] = {"此服务器不保存历史记录", "this server keeps no history"},
    [UI_HISTORY_UNAVAILABLE] = {"历史记录暂时无法读取", "history is unavailable now"},
    [UI_HISTORY_START] = {"没有更早的消息了", "nothing earlier"},
    [UI_HISTORY_USAGE] = {"用法：/history [条数，1 到 200]", "usage: /history [N, 1 to 200]"},
    [UI_SEARCH_USAGE] = {"用法：/search 词语…", "usage: /search WORDS"},
    [UI_SEARCH_FOUND] = {"找到 %s 条", "%s found"},
};

const char *ui_text(enum lang lang, enum ui_text t)
{
	int l = lang == LANG_ZH ? 0 : 1;

	if ((unsigned)t < NELEM(ui_texts) && ui_texts[t][l] != NULL)
		return ui_texts[t][l];
	return "?";
}

size_t ui_format(char *out, size_t size, const char *tmpl, const char *a, const char *b)
{
	const char *args[2] = {a, b};
	size_t o = 0, k;
	int next = 0;

	if (size == 0)
		return 0;
	while (*tmpl != '\0') {
		const char *piece = tmpl;
		size_t len = 1;

		if (tmpl[0] == '%' && tmpl[1] == 's') {
			piece = next < 2 && args[next] != NULL ? args[next] : "";
			next++;
			len = strlen(piece);
			tmpl += 2;
		} else {
			tmpl++;
		}
		k = len < size - 1 - o ? len : size - 1 - o;
		memcpy(out + o, piece, k);
		o += k;
	}
	out[o] = '\0';
	return o;
}
