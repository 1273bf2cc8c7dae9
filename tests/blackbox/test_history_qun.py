# test_history_qun.py - history through qun itself (issue 21's client side), against qund --store.
"""qun on pipes (plain mode, so the marks are in the text) in Chinese: a newcomer
sees the room's last lines marked as history, in order, each once, then the
separator, then live lines unmarked; /history pages back until the room's
beginning; /search finds a Chinese word in my rooms; a private line to someone
away is delivered marked when they log in with qun, and /r answers it; a server
without a store says it keeps no history."""

import os
import re

from test_plain import Lines, send
from tui_helpers import WAIT, session, wait_until  # noqa: F401 (fixture)

ZH = {"LANG": "zh_CN.UTF-8"}
MARK = re.compile(r"^\[历史 (\d\d-\d\d )?\d\d:\d\d\] ")  # today: no date
END = "—— 以上为历史消息 ——"


def store_server(session):
    return session.server("zh", args=["--store", os.path.join(session.dir, "qund.db")])


def qun(session, srv, name, *args):
    """qun on pipes, in Chinese; returns (process, stdout lines); stderr lines as q.err."""
    q = session.qun_pipe(srv.port, *(list(args) + [name]), env=session.env(**ZH))
    q.err = Lines(q.stderr)
    return q, Lines(q.stdout)


def wait_line(lines, pred, what, timeout=WAIT):
    assert wait_until(lambda: any(pred(l) for l in list(lines.lines)), timeout), (
        what, lines.lines)


def history_lines(lines):
    """The texts of the lines marked as history, the mark taken off."""
    return [MARK.sub("", l) for l in list(lines.lines) if MARK.match(l)]


def three_lines_said(session, srv):
    """alice says three lines; carol sees them live, so the store has them (kept first)."""
    a, alice = qun(session, srv, "alice")
    alice.wait("欢迎 alice 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    c, carol = qun(session, srv, "carol")
    carol.wait("欢迎 carol 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    for t in ("第一句", "第二句", "第三句"):
        send(a, t)
    carol.wait("alice 说：第三句")
    return a, alice


def test_join_shows_history_once_then_live(session):
    srv = store_server(session)
    a, alice = three_lines_said(session, srv)
    b, bob = qun(session, srv, "bob")
    bob.wait(END)
    said = [l for l in history_lines(bob) if l.startswith("alice 说：")]
    assert said == ["alice 说：第一句", "alice 说：第二句", "alice 说：第三句"], bob.lines
    end = bob.lines.index(END)
    assert all(MARK.match(l) is None for l in bob.lines[end + 1:]), bob.lines
    send(a, "现在")
    bob.wait("alice 说：现在")                # live: unmarked
    send(a, "barrier")
    bob.wait("alice 说：barrier")
    lines = list(bob.lines)
    for t in ("第一句", "第二句", "第三句", "现在"):
        assert sum(t in l for l in lines) == 1, (t, lines)   # each once
    assert lines.count(END) == 1, lines


def test_history_pages_back_to_the_beginning(session):
    srv = store_server(session)
    three_lines_said(session, srv)
    d, dave = qun(session, srv, "dave", "--history", "1")
    dave.wait(END)
    assert len(history_lines(dave)) == 1, dave.lines
    send(d, "/history 2")
    assert wait_until(lambda: len(history_lines(dave)) == 3), dave.lines
    send(d, "/history 200")
    dave.wait("没有更早的消息了")
    texts = history_lines(dave)
    said = [l for l in texts if l.startswith("alice 说：")]
    # Each page oldest first, each further back than the last: 二 三 (page 1), then 一.
    assert said == ["alice 说：第二句", "alice 说：第三句", "alice 说：第一句"], texts
    assert len(texts) == len(set(texts)), texts   # nothing shown twice
    send(d, "/history 0")
    d.err.wait("用法：/history [条数，1 到 200]")


def test_search_finds_a_chinese_word(session):
    srv = store_server(session)
    a, alice = three_lines_said(session, srv)
    send(a, "/search 第二")
    wait_line(alice, lambda l: re.match(r"^\[#大厅\] \[历史 \d\d-\d\d \d\d:\d\d\] alice 说：第二句$",
                                        l), "the found line, with its room and date")
    alice.wait("找到 1 条")


def test_private_line_kept_for_someone_away(session):
    srv = store_server(session)
    a, alice = qun(session, srv, "alice")
    alice.wait("欢迎 alice 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    send(a, "/msg erin 你不在的时候")
    a.err.wait("服务器：对方不在线：消息已保存，对方上线后送达")  # NOTICE 23
    e, erin = qun(session, srv, "erin")
    wait_line(erin, lambda l: re.match(
        r"^\[私信 \d\d-\d\d \d\d:\d\d，你不在时\] alice → 你：你不在的时候$", l),
        "the kept line, marked " + repr(e.err.lines))
    send(e, "/r 收到了")
    alice.wait("[私信] erin → 你：收到了")


def test_without_a_store_nothing_is_asked(session):
    srv = session.server("zh")
    a, alice = qun(session, srv, "alice")
    alice.wait("欢迎 alice 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    send(a, "/history")
    a.err.wait("此服务器不保存历史记录")
    send(a, "/search 猫")
    assert wait_until(lambda: a.err.lines.count("此服务器不保存历史记录") == 2), a.err.lines
    assert not any(MARK.match(l) for l in alice.lines), alice.lines
