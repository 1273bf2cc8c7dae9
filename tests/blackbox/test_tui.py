# test_tui.py - qun's terminal interface in tmux: typing while the room talks, editing, safety.
"""Screen tests of qun's line editor (issue 5), in a real terminal: tmux.

qun runs in a 100x30 tmux window against a real qund speaking its default
protocol, v2 (or a fake server, for what qund would never send); members
talk to it (v2, through v2client.py); the test types with send-keys and
reads the screen with capture-pane.  qun runs with --lang zh, so that the
room reads the same on its screen as the members' lines in the tests.
"""

import os
import re
import signal
import stat

import pytest

import v2client
from tui_helpers import alive, children, session, wait_until, width  # noqa: F401 (fixture)


def start(session, server, *args, env=None, name="alice"):
    """qun NAME in tmux, logged in; returns the window once the welcome is on screen."""
    lang = [] if "--lang" in args else ["--lang", "zh"]
    t = session.qun_tmux(server.port, *(lang + list(args) + [name]), env=env)
    t.wait_screen(lambda lines: any(name in l for l in lines))  # the welcome names us
    t.wait_input("")
    return t


def room(session, *names, lang="zh", args=(), legacy=False):
    """A qund with members already in it."""
    srv = session.server(lang, args, legacy)
    return srv, [session.member(srv, n) for n in names]


def test_half_typed_line_survives_fifty_messages(session):
    """Half a line typed, 50 messages arrive: all 50 are shown above it, the
    line is redrawn intact after each, and Enter sends it whole."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("half of a 半句话 line")
    t.wait_input("half of a 半句话 line")
    for i in range(50):
        bob.send("C bob message %02d 第%d条" % (i, i))
    t.wait_text("message 49", history=True)
    t.wait_input("half of a 半句话 line")
    shown = [l for l in t.screen(history=True) if "bob 说：message" in l]
    assert [re.search(r"message (\d\d)", l).group(1) for l in shown] == \
        ["%02d" % i for i in range(50)], shown
    assert all(re.match(r"^\[\d\d:\d\d\] bob 说：message \d\d 第\d+条$", l) for l in shown), shown
    # Exactly one input line on the screen, at the bottom, the cursor at its end.
    assert sum(l.startswith("> ") for l in t.screen()) == 1, t.text()
    x, y = t.cursor()
    assert x == 2 + len("half of a ") + 6 + len(" line")
    t.type(" ends here")
    t.keys("Enter")
    bob.expect("alice 说：half of a 半句话 line ends here")
    t.wait_text("alice 说：half of a 半句话 line ends here")
    t.wait_input("")


def test_cjk_editing(session):
    """Backspace removes a whole CJK character, the cursor lands where the
    columns say, and editing in the middle of wide characters works."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("你好世界")
    t.wait_input("你好世界")
    assert t.cursor()[0] == 2 + 8
    t.keys("BSpace")
    t.wait_input("你好世")
    assert t.cursor()[0] == 2 + 6
    t.keys("Left", "Left")
    wait_until(lambda: t.cursor()[0] == 2 + 2)
    assert t.cursor()[0] == 2 + 2
    t.type("X")
    t.wait_input("你X好世", at_end=False)
    assert t.cursor()[0] == 2 + 3
    t.keys("End")
    wait_until(lambda: t.cursor()[0] == 2 + 7)
    assert t.cursor()[0] == 2 + 7
    t.keys("Home")
    wait_until(lambda: t.cursor()[0] == 2)
    assert t.cursor()[0] == 2
    t.keys("Enter")
    bob.expect("alice 说：你X好世")


def test_word_deletion_and_line_keys(session):
    """Ctrl-W deletes the word before the cursor; Ctrl-A/Ctrl-E move; Ctrl-U clears."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("hello big world")
    t.wait_input("hello big world")
    t.keys("C-w")
    t.wait_input("hello big ")
    t.keys("C-a")
    t.type(">")
    t.wait_input(">hello big", at_end=False)
    t.keys("C-e")
    t.type("end")
    t.wait_input(">hello big end")
    t.keys("Enter")
    bob.expect("alice 说：>hello big end")
    t.type("scratch that")
    t.wait_input("scratch that")
    t.keys("C-u")
    t.wait_input("")


def test_history_recall_and_persistence(session):
    """Up and Down recall earlier lines; the history survives a restart, in
    $XDG_STATE_HOME/qun/history, readable by the user alone."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    for line in ("first line", "第二行"):
        t.type(line)
        t.keys("Enter")
        bob.expect("alice 说：" + line)
    t.keys("Up")
    t.wait_input("第二行")
    t.keys("Up")
    t.wait_input("first line")
    t.keys("Down")
    t.wait_input("第二行")
    t.keys("Enter")
    bob.expect("alice 说：第二行")
    t.type("/quit")
    t.keys("Enter")
    t.wait_text("QUN-EXIT=0")
    bob.wait_for("alice 退出了聊天室")

    path = os.path.join(session.dir, "state", "qun", "history")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Saved through a temporary of its own, renamed over: none is left behind.
    assert os.listdir(os.path.dirname(path)) == ["history"]
    t2 = start(session, srv)
    t2.keys("Up")
    t2.wait_input("/quit")
    t2.keys("Up")
    t2.wait_input("第二行")


def test_arrow_split_by_a_message_is_still_an_arrow(session):
    """An arrow key's ESC [ A that comes in two reads, a message shown
    between them, is still the arrow: Up recalls the last line, and no
    "[A" lands in the input line."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("earlier line")
    t.keys("Enter")
    bob.expect("alice 说：earlier line")
    t.wait_input("")
    t.keys("Escape")  # the arrow's first byte alone
    bob.send("C bob between the bytes")
    t.wait_text("bob 说：between the bytes")
    t.type("[A")  # and the rest of it
    t.wait_input("earlier line")
    assert "[A" not in t.input_line()


def edited(presses):
    """The line (and cursor) libedit makes of presses, on a fresh qun with an empty history.

    A press is a tmux key name or text typed.  With nothing to recall,
    Up and Down only move an "events away from the line" count: Up at 0
    first puts the line aside, and whenever Down brings the count (never
    below 0) to 0 the line put aside comes back, cursor at its end (on a
    fresh qun, before any Up, that line is empty).  Left, Right, Home and
    End move the cursor; text goes in at the cursor.
    """
    line, cur, away, aside = "", 0, 0, ""
    for p in presses:
        if p == "Up":
            if away == 0:
                aside = line
            away += 1
        elif p == "Down":
            away = max(0, away - 1)
            if away == 0:
                line, cur = aside, len(aside)
        elif p == "Left":
            cur = max(0, cur - 1)
        elif p == "Right":
            cur = min(len(line), cur + 1)
        elif p == "Home":
            cur = 0
        elif p == "End":
            cur = len(line)
        else:
            line, cur = line[:cur] + p + line[cur:], cur + len(p)
    return line, cur


def ui_pid(t):
    """qun's UI process: the one program the window's shell runs (its child is the network's)."""
    kids = wait_until(lambda: children(t.pane_pid()))
    assert len(kids) == 1, kids
    return next(iter(kids))


def bytes_read(pid):
    """What pid has read with read() so far (/proc/PID/io's rchar; recv() is not counted)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/%d/io" % pid)


def send_hex(t, data):
    """Write raw bytes to qun's terminal (one write by tmux)."""
    t.tmux("send-keys", "-t", "t", "-H", *("%02x" % b for b in data))


def send_raw(t, ui, data):
    """Write raw bytes to qun's terminal and wait until qun has read them all.

    Once qun has shown a line (it reads the time zone file for the first
    one), its UI reads nothing else with read() (the network's messages
    come by recv(), and no signal is sent), so its read count growing by
    len(data) says the bytes are in its key buffer: no longer on the way,
    in tmux or in the terminal's queue.
    """
    before = bytes_read(ui)
    send_hex(t, data)
    assert wait_until(lambda: bytes_read(ui) - before >= len(data)), \
        "qun read %d of %r" % (bytes_read(ui) - before, data)


def test_keys_split_by_a_flood_stay_keys(session):
    """Keys pressed while a flood of lines arrives, and keys whose bytes are
    cut in two with a burst of lines shown in between, are still those
    keys: the line entered holds exactly what they make of it, never a
    "[A", "~", "O" or a stray byte of a cut escape sequence or character.

    The history is empty and the Ups stay ahead of the Downs, so Up and
    Down change nothing (see edited()); were an Up broken, a Down would
    give back the line as the first Up put it aside, without the
    characters typed since, so that cannot hide either.  What the room
    receives is compared with edited() of every press.
    """
    srv, (bob,) = room(session, "bob",
                       args=("--flood-burst", "100000", "--flood-rate", "100000"))
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    ui = ui_pid(t)
    presses = ["qun-marker", "Up"]
    t.type("qun-marker")
    t.keys("Up")

    # 100 Up/Down/Left presses (and Home, End, CJK typed) during a flood of 300 lines.
    # Every other arrow comes as two writes, cut after ESC or ESC [: where qun
    # reads between them, a line of the flood may well be shown in between.
    arrows = {"Up": b"\x1b[A", "Down": b"\x1b[B", "Left": b"\x1b[D"}
    n = 0
    for i in range(20):
        group = ["Up", "Left", "Down", "Left", "Left"]
        if i % 4 == 1:
            group += ["End", "字"]
        elif i % 4 == 3:
            group += ["Home", "你"]
        for p in group:
            if p in arrows:
                for j in range(3):
                    bob.send("C bob flood %03d 洪水" % (3 * n + j))
                if n % 2 == 0:
                    t.keys(p)
                else:
                    cut = 1 + n // 2 % 2
                    send_hex(t, arrows[p][:cut])
                    send_hex(t, arrows[p][cut:])
                n += 1
            elif p in ("Home", "End"):
                t.keys(p)
            else:
                t.type(p)
            presses.append(p)
    assert n == 100

    # Keys cut in two at the byte level, a burst of lines shown between the halves
    # (after the flood's first line: see send_raw()).
    t.wait_text("bob 说：flood", history=True)
    cuts = [("Up", b"\x1b", b"[A"), ("Left", b"\x1b[", b"D"), ("Down", b"\x1b[", b"B"),
            ("Home", b"\x1b[1", b"~"), ("字", "字".encode()[:1], "字".encode()[1:]),
            ("End", b"\x1bO", b"F"), ("符", "符".encode()[:2], "符".encode()[2:]),
            ("Left", b"\x1b", b"[D"), ("Home", b"\x1bO", b"H"),
            ("中", "中".encode()[:1], "中".encode()[1:])]
    for k, (key, first, rest) in enumerate(cuts):
        send_raw(t, ui, first)
        for j in range(10):
            bob.send("C bob cut %d line %d" % (k, j))
        t.wait_text("bob 说：cut %d line" % k)  # a redraw with half a key waiting
        send_raw(t, ui, rest)
        presses.append(key)

    t.keys("End")
    t.type("|end")
    presses += ["End", "|end"]
    want, _ = edited(presses)
    t.wait_input(want)
    t.keys("Enter")
    got = bob.recv_text()
    assert got == "alice 说：" + want, (got, want)


def test_paste_longer_than_one_round_is_handled_without_another_key(session):
    """qun hands libedit at most 4,096 keys per round (reads of stdin
    count too).  A paste of a 4,085-key line and a short one, 4,091 bytes,
    is all read by the 16th read of 256 bytes, so the round ends with the
    last 11 keys in qun's buffer and nothing left on the terminal: they
    must still be handled without waiting for another keypress.  The long
    line is refused (too long to say), the short one reaches the room."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.tmux("set-buffer", "-b", "paste", "x" * 4085 + "\n" + "tail\n")
    t.tmux("paste-buffer", "-b", "paste", "-t", "t")
    t.wait_text("消息太长", history=True)
    bob.expect("alice 说：tail")
    t.wait_input("")


def test_history_not_kept_in_a_directory_others_can_write(session):
    """If $XDG_STATE_HOME/qun is writable by others (who could plant or
    read the file), the history stays in memory: recall works, nothing is
    written there."""
    srv, (bob,) = room(session, "bob")
    shared = os.path.join(session.dir, "shared")
    os.makedirs(os.path.join(shared, "qun"))
    os.chmod(os.path.join(shared, "qun"), 0o777)
    t = start(session, srv, env=session.env(XDG_STATE_HOME=shared))
    bob.expect("alice 进入了聊天室")
    t.type("in memory only")
    t.keys("Enter")
    bob.expect("alice 说：in memory only")
    t.keys("Up")
    t.wait_input("in memory only")
    t.keys("C-u")
    t.type("/quit")
    t.keys("Enter")
    t.wait_text("QUN-EXIT=0")
    bob.wait_for("alice 退出了聊天室")
    assert os.listdir(os.path.join(shared, "qun")) == []


def test_completion(session):
    """Tab completes the names of members (those there before us, and those
    who join later), lists several candidates, completes commands, and
    forgets members who leave."""
    srv, (bob, carol, ming) = room(session, "bob", "carol", "小明")
    t = start(session, srv)
    bob.wait_for("alice 进入了聊天室")

    # Members already in the room come from the quiet /who qun sends at start.
    def completes(typed, want):
        line = "> " + want
        t.keys("C-u")
        t.type(typed)
        t.keys("Tab")
        return wait_until(lambda: t.input_line() == line.rstrip() and
                          t.cursor()[0] == width(line), timeout=0.5)

    assert wait_until(lambda: completes("ca", "carol: ")), t.text()
    t.type("hi")
    t.keys("Enter")
    bob.expect("alice 说：carol: hi")
    assert completes("hey b", "hey bob "), t.text()
    assert completes("小", "小明: "), t.text()
    assert completes("/wh", "/who "), t.text()

    # Someone joins later: several candidates with nothing more in common are listed.
    carl = session.member(srv, "carl")
    t.wait_text("carl 进入了聊天室")
    assert completes("car", "car"), t.text()
    t.wait_text("carl  carol")
    t.wait_input("car")
    carl.send("Q carl")
    t.wait_text("carl 退出了聊天室")
    assert completes("car", "carol: "), t.text()


def test_who(session):
    """/who shows the members online, from the server."""
    srv, (bob, carol) = room(session, "bob", "carol")
    t = start(session, srv, "--lang", "zh")
    bob.wait_for("alice 进入了聊天室")
    t.type("/who")
    t.keys("Enter")
    t.wait_text("在线 3 人：alice、bob、carol")
    t.wait_input("")
    bob.silent()  # the answer went to alice alone


def test_me(session):
    """/me ACTION reaches the room as "* alice ACTION"; others' actions show the same way."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("/me waves 挥手")
    t.keys("Enter")
    bob.expect("* alice waves 挥手")
    t.wait_text("* alice waves 挥手")
    bob.send("A bob 也挥手")
    t.wait_text("* bob 也挥手")


def test_unknown_command_never_sent(session):
    """A mistyped command gets a hint and never reaches the room; //x says /x."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("/frobnicate now")
    t.keys("Enter")
    t.wait_text("未知命令：/frobnicate")
    t.type("//slash")
    t.keys("Enter")
    bob.expect("alice 说：/slash")  # the very next datagram: /frobnicate was not sent
    t.type("/help")
    t.keys("Enter")
    t.wait_text("/who 谁在线")


HOSTILE = (b"evil \x1b]0;pwned\x07 \x1b[2J \x9b" b"31m \xc2\x9b" b"31m "
           b"\xe2\x80\xae" b"abc \x1b[31mRED\x1b[0m end")


WANT = "evil ^[]0;pwned^G ^[[2J \\x9B31m \\u{009B}31m \\u{202E}abc ^[[31mRED^[[0m end"


def check_injection(t):
    """The screen after HOSTILE and its companions: visible escapes only."""
    lines = t.screen()
    text = "\n".join(lines)
    assert "before the payload" in text  # no ESC [2J went through
    assert any(l.endswith(WANT) for l in lines), text
    assert any(l.endswith("bob 说：^[[2Jchat\\u{202E}line") for l in lines), text
    assert "pwned" not in t.tmux("display-message", "-p", "-t", "t", "#{pane_title}")
    # The payload's line carries no colour of its own (ours: dim, bold, name colours only).
    styled = [l for l in t.screen(escapes=True) if "RED" in l]
    assert styled and not re.search(r"\x1b\[[0-9;]*\b31m", styled[0]), styled
    t.wait_input("")


def test_injection_shows_visible_escapes(session):
    """ESC sequences, an OSC title, 8-bit CSI (raw 0x9B and U+009B) and a
    bidi override from the network, in a v2 event's text and in a name,
    are shown as visible escapes: the screen is not cleared, the title
    not set, nothing turns red (THREATS.md S10)."""
    fake = session.fake2()
    t = session.qun_tmux(fake.port, "--lang", "zh", "alice")
    fake.accept_login()
    t.wait_text("欢迎 alice")
    fake.event(v2client.EV_SAY, b"bob", "before the payload".encode())
    t.wait_text("before the payload")
    fake.event(v2client.EV_ADMIN, b"", HOSTILE)
    fake.event(v2client.EV_SAY, b"bob", "\x1b[2Jchat\u202eline".encode())
    fake.event(v2client.EV_JOIN, b"\x1b[2Jmal\xe2\x80\xaelory\x07")
    fake.event(v2client.EV_ADMIN, b"", b"BARRIER")
    t.wait_text("BARRIER")
    check_injection(t)
    assert any(l.endswith("^[[2Jmal\\u{202E}lory^G 进入了聊天室") for l in t.screen()), t.text()


def test_injection_shows_visible_escapes_v1(session):
    """The same payload as a v1 server's whole line (qun --legacy)."""
    fake = session.fake()
    t = session.qun_tmux(fake.port, "--legacy", "--lang", "zh", "alice")
    fake.accept_login()
    t.wait_text("欢迎 alice")
    fake.send("before the payload".encode())
    t.wait_text("before the payload")
    fake.send(HOSTILE)
    fake.send("bob 说：\x1b[2Jchat\u202eline".encode())
    fake.send(b"BARRIER")
    t.wait_text("BARRIER")
    check_injection(t)


def test_resize_redraws(session):
    """A long input line wraps; after the window narrows and widens, new
    messages still appear above it and it is intact, then sent whole."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    typed = "".join("w%02d-" % i for i in range(30)) + "宽字符" * 5  # 150 + 30 columns
    t.type(typed)
    t.wait_input(typed)
    for cols, n in ((60, 1), (120, 2), (45, 3)):
        t.resize(cols)
        bob.send("C bob after resize %d" % n)
        t.wait_text("bob 说：after resize %d" % n)
        t.wait_input(typed)
        # One copy of the input, and the new message right above its prompt row.
        rows = [l for l in t.screen() if l]
        assert sum("w00-" in l for l in rows) == 1, "\n".join(rows)
        prompt = max(i for i, l in enumerate(rows) if l.startswith("> w00-"))
        assert rows[prompt - 1].endswith("bob 说：after resize %d" % n), "\n".join(rows)
    t.keys("Enter")
    bob.expect("alice 说：" + typed)


def test_colours_and_no_color(session):
    """Names are drawn in a colour of their own, the same every time; with
    NO_COLOR set nothing is coloured; system lines are marked either way."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    bob.send("C bob one")
    bob.send("C bob two")
    t.wait_text("bob 说：two")
    lines = [l for l in t.screen(escapes=True) if "说：" in l]
    colours = [re.search(r"\x1b\[[0-9;]*m(?=bob)", l) for l in lines]
    assert all(colours) and len({c.group(0) for c in colours}) == 1, lines

    t2 = start(session, srv, env=session.env(NO_COLOR="1"), name="dave")
    bob.wait_for("dave 进入了聊天室")
    bob.send("C bob three")
    t2.wait_text("bob 说：three")
    assert not any("\x1b[" in l for l in t2.screen(escapes=True) if "three" in l)
    carol = session.member(srv, "carol")
    t2.wait_text("-!- carol 进入了聊天室")
    carol.send("Q carol")
    t2.wait_text("-!- carol 退出了聊天室")


@pytest.mark.parametrize("how", ["/quit", "C-d", "C-c", "SIGTERM", "kicked", "shutdown"])
def test_terminal_restored(session, how):
    """Every way out leaves the terminal settings as they were; quitting is
    confirmed by the server (exit 0), and the room is told."""
    srv, (bob,) = room(session, "bob")
    t = start(session, srv)
    bob.expect("alice 进入了聊天室")
    t.type("typed but not sent")
    t.wait_input("typed but not sent")
    if how == "/quit":
        t.keys("C-u")
        t.type("/quit")
        t.keys("Enter")
    elif how == "C-d":
        t.keys("C-u", "C-d")
    elif how == "C-c":
        t.keys("C-c")
    elif how == "SIGTERM":
        ui = next(iter(children(t.pane_pid())))
        os.kill(ui, signal.SIGTERM)
    elif how == "kicked":
        srv.say("/kick alice")
    else:
        srv.stop()
    t.wait_text("QUN-EXIT=0")
    if how in ("kicked", "shutdown"):
        t.wait_text("你已被请出聊天室" if how == "kicked" else "服务器已关闭")
        t.wait_text("已退出聊天室")
    else:
        bob.wait_for("alice 退出了聊天室")
    assert wait_until(lambda: os.path.exists(os.path.join(session.dir, "stty.after")))
    assert wait_until(lambda: session.stty("after") != "")
    assert session.stty("after") == session.stty("before")
    # What was typed but not entered never reached the room.
    bob_saw = []
    while True:
        got = bob.recv_text(0.05)
        if got is None:
            break
        bob_saw.append(got)
    assert not any("typed but not sent" in l for l in bob_saw), bob_saw


@pytest.mark.parametrize("proto", ["v2", "v1"])
def test_network_process_killed(session, proto):
    """SIGKILL of the network process: the UI notices at once, restores the
    terminal and exits 1.  v1: it tells the server we left.  v2: a session's
    reliable state died with the process, so the server evicts it after its
    keepalive timeout (3 s here) and tells the room."""
    legacy = proto == "v1"
    srv, (bob,) = room(session, "bob", args=() if legacy else ("--keepalive-timeout", "3"),
                       legacy=legacy)
    t = start(session, srv, *(["--legacy"] if legacy else []))
    bob.expect("alice 进入了聊天室")
    ui = next(iter(children(t.pane_pid())))
    net = wait_until(lambda: children(ui))
    assert len(net) == 1, net
    net = next(iter(net))
    os.kill(net, signal.SIGKILL)
    t.wait_text("QUN-EXIT=1", timeout=3)
    if legacy:
        bob.wait_for("alice 退出了聊天室")
    else:
        bob.wait_for("alice 退出了聊天室（超时）", timeout=10)
    assert wait_until(lambda: not alive(ui) and not alive(net))
    assert wait_until(lambda: os.path.exists(os.path.join(session.dir, "stty.after")))
    assert wait_until(lambda: session.stty("after") == session.stty("before"))
