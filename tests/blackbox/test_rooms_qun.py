# test_rooms_qun.py - rooms and private messages through qun itself (issue 20's "how we will check").
"""Three qun clients on pipes (plain mode, so a bot's view) in Chinese, two
rooms and private lines, with the lesson's own v1 client beside them on a
--legacy server: each line reaches exactly the members it should, marked
with where it was said, and nobody else sees it; the lesson's client sees
exactly the lesson's texts.  Then the commands' answers (/rooms, /who
#room, /part) and what qun says when the server has no rooms.  "Nobody
else" is proved by a barrier line said after the line in question."""

from test_plain import Lines, send
from tui_helpers import WAIT, session, wait_until  # noqa: F401 (fixture)

ZH = {"LANG": "zh_CN.UTF-8"}


def qun(session, srv, name, *args):
    """qun on pipes, in Chinese, as name; returns (process, stdout lines, stderr lines)."""
    q = session.qun_pipe(srv.port, *(list(args) + [name]), env=session.env(**ZH))
    return q, Lines(q.stdout), Lines(q.stderr)


def has(lines, text):
    return text in lines.lines


def wait_count(lines, text, n, timeout=WAIT):
    assert wait_until(lambda: lines.lines.count(text) >= n, timeout), (text, n, lines.lines)


def test_three_clients_two_rooms_one_private(session):
    srv = session.server("zh", legacy=True)
    lesson = session.member(srv, "lesson")
    a, alice, _ = qun(session, srv, "alice")
    lesson.wait_for("alice 进入了聊天室")
    b, bob, _ = qun(session, srv, "bob")
    lesson.wait_for("bob 进入了聊天室")
    c, carol, _ = qun(session, srv, "carol")
    lesson.wait_for("carol 进入了聊天室")

    send(a, "/join #技术部")
    alice.wait("你加入了 #技术部（1 人）")
    send(b, "/join #技术部")
    bob.wait("你加入了 #技术部（2 人）")
    wait_count(alice, "bob 进入了聊天室", 2)  # the server's, then #技术部's (current: unmarked)

    send(a, "代码评审")                      # to the current room, #技术部
    bob.wait("alice 说：代码评审")
    send(c, "大家好")                        # carol is in the default room only
    alice.wait("[#大厅] carol 说：大家好")
    bob.wait("[#大厅] carol 说：大家好")
    # The lesson's client: the lesson's line, and nothing from #技术部 before it.
    lesson.expect("carol 说：大家好")
    send(c, "/msg alice 悄悄话")
    alice.wait("[私信] carol → 你：悄悄话")
    send(a, "/r 收到")
    carol.wait("[私信] alice → 你：收到")

    # The barrier: everyone has it, so everyone has had all of the above by now.
    send(c, "barrier")
    for lines in (alice, bob):
        lines.wait("[#大厅] carol 说：barrier")
    lesson.expect("carol 说：barrier")       # the private lines never reached it
    assert not any("代码评审" in l for l in carol.lines), carol.lines
    assert not any("悄悄话" in l or "收到" in l for l in bob.lines), bob.lines
    a.stdin.close()
    lesson.expect("alice 退出了聊天室")       # the lesson's text, once, for all her rooms
    bob.wait("alice 退出了聊天室")             # in #技术部, bob's current room
    bob.wait("[#大厅] alice 退出了聊天室")


def test_rooms_who_and_part_answers(session):
    srv = session.server("zh")
    a, alice, alice_err = qun(session, srv, "alice")
    alice.wait("欢迎 alice 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    b, bob, bob_err = qun(session, srv, "bob")
    wait_count(alice, "bob 进入了聊天室", 1)
    send(a, "/join dev")                      # the '#' is added
    alice.wait("你加入了 #dev（1 人）")
    send(b, "/join #DEV")                     # one room whatever the case
    bob.wait("你加入了 #dev（2 人）")
    send(a, "/rooms")
    alice.wait("你的聊天室：#大厅 (2)、#dev (2)")
    send(b, "/who #dev")
    assert wait_until(lambda: any(l.startswith("[#dev] 在线 2 人：") for l in bob.lines)), \
        bob.lines
    send(b, "/part")                          # the current room, #dev
    bob.wait("你离开了 #dev")
    alice.wait("bob 退出了聊天室")             # said in #dev, alice's current room
    send(b, "/part #大厅")                    # refusals go to standard error
    bob_err.wait("服务器：默认聊天室不能离开（/quit 退出服务器）")
    send(a, "/msg nobody hi")
    alice_err.wait("服务器：对方不在线")


def test_commands_say_when_the_server_has_no_rooms(session):
    """qun --legacy (v1) has no rooms: the commands say so and send nothing."""
    srv = session.server("zh", legacy=True)
    lesson = session.member(srv, "lesson")
    a, alice, err = qun(session, srv, "alice", "--legacy")
    lesson.wait_for("alice 进入了聊天室")
    for line in ("/join #dev", "/msg lesson hi", "/rooms"):
        send(a, line)
    assert wait_until(lambda: sum("此服务器没有聊天室和私信功能" in l
                                  for l in alice.lines + err.lines) >= 3), (alice.lines,
                                                                      err.lines)
    send(a, "barrier")
    before = lesson.wait_for("alice 说：barrier")
    assert before == [], "the lesson's client got %r" % before


def test_a_line_after_join_goes_to_the_joined_room(session):
    """A bot's "/join #dev" then its line: the line is for #dev, which becomes
    current only when the server's answer comes; qun holds it till then.
    Then "/part" and a line: the line goes where the part leaves it (the
    default room).  Then the bot's input ends: qun leaves after both."""
    srv = session.server("zh")
    a, alice, _ = qun(session, srv, "alice")
    alice.wait("欢迎 alice 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    send(a, "/join #dev")
    alice.wait("你加入了 #dev（1 人）")
    b, bot, bot_err = qun(session, srv, "bot")
    wait_count(alice, "[#大厅] bot 进入了聊天室", 1)
    b.stdin.write("/join #dev\nhello dev\n/part\nhello lobby\n".encode())
    b.stdin.close()                          # and leave: after what was typed
    alice.wait("bot 说：hello dev")          # #dev, alice's current room: unmarked
    alice.wait("[#大厅] bot 说：hello lobby")
    assert b.wait(WAIT) == 0
    assert "[#大厅] bot 说：hello dev" not in alice.lines, alice.lines
    assert "[#dev] bot 说：hello lobby" not in alice.lines, alice.lines
    assert not any("没有发送" in l for l in bot_err.lines + bot.lines), bot_err.lines


def test_a_long_list_of_rooms_is_shown_whole(session):
    """/rooms with 35 rooms of 32-byte names (about 1.4 KB of list): one
    line, every room in it, no character cut; the joins typed at once
    each wait for the one before."""
    srv = session.server("zh", args=["--max-rooms-per-member", "40"])
    b, bot, bot_err = qun(session, srv, "bot")
    bot.wait("欢迎 bot 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    names = ["#长长的聊天室名字第%02d号" % i for i in range(35)]
    assert all(len(n[1:].encode()) == 32 for n in names)
    b.stdin.write("".join("/join %s\n" % n for n in names).encode())
    b.stdin.flush()
    wait_count(bot, "你加入了 %s（1 人）" % names[-1], 1)
    send(b, "/rooms")
    want = "你的聊天室：" + "、".join(["#大厅 (1)"] + ["%s (1)" % n for n in names])
    bot.wait(want)
    assert not bot_err.lines, bot_err.lines


def test_a_restarted_server_keeps_the_current_room(session):
    """After the server restarts, qun joins its rooms again and keeps the
    current room, even when another of its rooms gets the current room's
    old id first (#c joined again is 3, #b's id before the restart)."""
    srv = session.server("zh")
    port = srv.port
    b, bot, _ = qun(session, srv, "bot")
    send(b, "/join #c")                       # 2
    bot.wait("你加入了 #c（1 人）")
    send(b, "/join #b")                       # 3, and current
    bot.wait("你加入了 #b（1 人）")
    srv.proc.kill()                           # a crash: no goodbye to anyone
    srv.proc.wait()
    srv2 = session.server("zh", args=["-p", str(port)])
    w, watch, _ = qun(session, srv2, "watch")
    send(w, "/join #a")                       # 2 on the new server
    watch.wait("你加入了 #a（1 人）")
    send(b, "typed after the restart")       # qun finds the server forgot it
    wait_count(watch, "[#大厅] bot 进入了聊天室", 1)
    send(w, "/join #b")
    watch.wait("你加入了 #b（2 人）")          # the bot is back in #b (4), after #c (3)
    send(b, "still in b")
    watch.wait("bot 说：still in b")          # #b, watch's current room: unmarked
    assert "[#大厅] bot 说：still in b" not in watch.lines, watch.lines
    assert not any("[#b]" in l for l in bot.lines), bot.lines


def test_a_line_after_part_during_an_outage_goes_where_the_part_leaves(session):
    """/part and a line while the server is down: once a new session is
    back (the room is not joined again: it was being parted), the line goes
    to the default room, where the part left the user; nothing is reported
    as not sent."""
    srv = session.server("zh")
    port = srv.port
    b, bot, bot_err = qun(session, srv, "bot")
    send(b, "/join #c")
    bot.wait("你加入了 #c（1 人）")
    srv.proc.kill()                           # a crash: no goodbye to anyone
    srv.proc.wait()
    send(b, "/part")
    send(b, "to the lobby")
    srv2 = session.server("zh", args=["-p", str(port)])
    w, watch, _ = qun(session, srv2, "watch")
    watch.wait("欢迎 watch 进入聊天室（输入 /help 查看帮助，/quit 退出）")
    watch.wait("bot 说：to the lobby", timeout=3 * WAIT)   # a retransmission finds srv2
    bot.wait("你离开了 #c")
    assert not any("没有发送" in l for l in bot_err.lines + bot.lines), bot_err.lines
