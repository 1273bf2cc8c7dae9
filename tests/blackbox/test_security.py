# test_security.py - black-box tests of qund against the attacks of THREATS.md (S1, S2, S8, S9, S11-S13).
"""Forged and hostile datagrams sent to a real qund on loopback.

Each test proves the absence of an effect with a barrier: after the hostile
datagram, a real message travels the same path, and the test asserts that
nothing arrived before it.  UDP on loopback keeps the order of datagrams
from one socket, and the server handles them in order, so anything the
hostile datagram caused would have arrived first."""

import unicodedata

import pytest

from conftest import Udp, all_refusals, ev, padded, refusal
from v2client import E_NAME_INVALID, EV_JOIN, ClientSet

# qund answers an address that is not a member with at most this many times
# the bytes it received from it in the request (docs/PROTOCOL.md, "No
# amplification"; RFC 9000, section 8).
AMPLIFY = 3


def _fits(text, request):
    """Whether the refusal text may go in full in answer to request."""
    return len(text.encode()) <= AMPLIFY * len(request)


def _room(procs, lang="zh"):
    """A server with members alice and bob (bob sees alice's events)."""
    srv = procs.qund1(lang=lang)
    alice = procs.member(srv, "alice")
    bob = procs.member(srv, "bob")
    assert alice.wait_for(ev(lang, "join", "bob")) == []
    return srv, alice, bob


def _barrier(sender, observers, text, lang="zh"):
    """sender says text; each observer must get it with nothing before it."""
    sender.send("C %s %s" % (sender.name, text))
    for o in observers:
        before = o.wait_for(ev(lang, "say", sender.name, text))
        assert before == [], "%s got %r before the barrier" % (o.addr, before)


def _replies_until_ok(sock, name, observers=(), lang="zh"):
    """Log sock in as name; return the texts it received before the OK.

    Each observer must then get the join of name with nothing before it:
    that is the barrier proving nothing else reached them meanwhile."""
    sock.send("L " + name)
    before = sock.wait_for("OK")
    sock.name = name
    for o in observers:
        got = o.wait_for(ev(lang, "join", name))
        assert got == [], "%s got %r before %s joined" % (o.addr, got, name)
    return before


# ---------------------------------------------------------------------------
# S1, S2: nobody speaks or quits for somebody else.

def test_s1_chat_as_alice_from_stranger(procs):
    """S1: `C alice ...` from an address that is not alice's reaches nobody,
    and the stranger gets no reply."""
    srv, alice, bob = _room(procs)
    mallory = procs.udp(srv.port)
    mallory.send("C alice I am alice")
    mallory.send("C alice I am alice\n")
    assert _replies_until_ok(mallory, "mallory", [alice, bob]) == []
    _barrier(alice, [bob], "real")
    _barrier(bob, [alice], "real too")


def test_s1b_member_speaks_under_other_name(procs):
    """S1b: member bob sending `C alice x` from bob's own address is shown to
    nobody, neither as alice nor as bob, and bob gets no reply."""
    srv, alice, bob = _room(procs)
    carol = procs.member(srv, "carol")
    alice.wait_for(ev("zh", "join", "carol"))
    bob.wait_for(ev("zh", "join", "carol"))
    bob.send("C alice x")
    bob.send("C ALICE x")
    bob.send("C carol x")
    _barrier(bob, [alice, carol], "barrier")
    bob.send("L bob")
    bob.expect("OK")


@pytest.mark.parametrize("forger", ["stranger", "member"])
def test_s2_forged_quit(procs, forger):
    """S2: a forged `Q alice` (from a stranger or from member bob) removes
    nobody: no leave is announced, alice gets no EXIT and can still talk."""
    srv, alice, bob = _room(procs)
    carol = procs.member(srv, "carol")
    bob.wait_for(ev("zh", "join", "carol"))
    alice.wait_for(ev("zh", "join", "carol"))
    src = procs.udp(srv.port) if forger == "stranger" else bob
    src.send("Q alice")
    src.send("Q Alice")
    src.send("P alice")
    _barrier(alice, [bob, carol], "still here")
    _barrier(carol, [alice, bob], "and me")
    assert sorted(n for n, _ in srv.who()) == ["alice", "bob", "carol"]
    if forger == "stranger":
        assert _replies_until_ok(src, "mallory", [alice, bob, carol]) == []


# ---------------------------------------------------------------------------
# S8: malformed datagrams.

CUT_1024 = (b"C alice " + "中".encode() * 339)[:1024]
assert len(CUT_1024) == 1024 and CUT_1024.endswith(b"\xe4\xb8")

MALFORMED = [
    ("empty", b""),
    ("bare L", b"L"), ("bare C", b"C"), ("bare Q", b"Q"), ("bare P", b"P"),
    ("L space", b"L "), ("C space", b"C "), ("Q space", b"Q "), ("P space", b"P "),
    ("C no text", b"C alice"), ("C empty text", b"C alice "),
    ("LX", b"LX y"), ("Z", b"Z"), ("unknown cmd", b"Z alice hi"), ("lowercase l", b"l alice"),
    ("binary junk", bytes(range(256))), ("0xFF", b"\xff" * 64), ("NULs", b"\x00" * 16),
    ("NUL in L", b"L \x00alice"), ("NUL after cmd", b"C\x00alice hi"),
    ("1201 bytes", b"C alice " + b"x" * 1193), ("2000 bytes", b"x" * 2000),
    ("65507 bytes", b"C alice " + b"y" * 65499),
    ("1024 cut CJK", CUT_1024),
    ("only LF", b"\n"), ("CRLF", b"\r\n"), ("only newlines", b"\n\n\n\n"),
    ("very long name", b"L " + b"n" * 1000), ("name fills 1200", b"L " + b"n" * 1198),
    ("long name C", b"C " + b"n" * 1100 + b" hi"),
]
# Requests that a server may legitimately ignore even from a member: empty
# ones, and a C naming somebody else (dropped without a reply, PROTOCOL.md).
MAY_BE_SILENT = {b"", b"\n", b"\r\n", b"C " + b"n" * 1100 + b" hi"}


@pytest.mark.parametrize("name, payload", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_s8_malformed(procs, name, payload):
    """S8: a malformed datagram, from a stranger and from a member, crashes
    nothing and relays nothing.  The stranger gets at most a refusal no
    larger than 3 times its datagram; the member gets one refusal (or, for an empty
    datagram, possibly nothing).  Afterwards real logins and chat work."""
    srv, alice, bob = _room(procs)
    refusals = all_refusals("zh")

    alice.send(payload)
    alice.send("L alice")
    before = alice.wait_for("OK")
    assert all(r in refusals for r in before), "alice got %r for %s" % (before, name)
    if payload in MAY_BE_SILENT:
        assert len(before) <= 1, before
    else:
        assert len(before) == 1, "member alice got %r for %s, expected one refusal" % (before, name)
    assert srv.running(), "qund died on %s from a member" % name
    _barrier(alice, [bob], "after member")

    stranger = procs.udp(srv.port)
    stranger.send(payload)
    replies = _replies_until_ok(stranger, "stranger", [alice, bob])
    for r in replies:
        assert r in refusals, "stranger got %r for %s" % (r, name)
        assert len(r.encode()) <= AMPLIFY * len(payload), "reply %r over 3x the request" % r
    assert len(replies) <= 1, "stranger got %r" % replies
    assert srv.running(), "qund died on %s from a stranger" % name
    _barrier(alice, [bob, stranger], "still serving")


def test_s8_oversized_from_member_refused(procs):
    """A member's datagram over 1200 bytes is refused as too long, never read in part."""
    srv, alice, bob = _room(procs)
    for size in (1201, 1500, 65507):
        alice.send(b"C alice " + b"z" * (size - 8))
        alice.expect(refusal("zh", "datagram_long"))
    _barrier(alice, [bob], "ok")


def test_s8_exactly_1200_bytes_is_not_oversized(procs):
    """A datagram of exactly 1200 bytes is within the datagram limit: its
    1192-byte text is refused for the text limit (1000), not as an oversized
    datagram; 1001 bytes of text are refused, 1000 are relayed whole."""
    srv, alice, bob = _room(procs)
    payload = b"C alice " + b"w" * 1192
    assert len(payload) == 1200
    alice.send(payload)
    alice.expect(refusal("zh", "text_long"))
    alice.send(b"C alice " + b"w" * 1001)
    alice.expect(refusal("zh", "text_long"))
    alice.send(b"C alice " + b"w" * 1000)
    bob.expect(ev("zh", "say", "alice", "w" * 1000))


# ---------------------------------------------------------------------------
# S9: invalid UTF-8.

BAD_UTF8 = [
    ("overlong", b"\xc0\xaf"), ("overlong 3", b"\xe0\x80\xaf"), ("surrogate", b"\xed\xa0\x80"),
    ("above max", b"\xf4\x90\x80\x80"), ("cut", b"\xe4\xb8"), ("stray continuation", b"\x80"),
    ("FE", b"\xfe"), ("cut 4", b"\xf0\x9f\x98"),
]


@pytest.mark.parametrize("name, bad", BAD_UTF8, ids=[b[0] for b in BAD_UTF8])
def test_s9_invalid_utf8_in_name(procs, name, bad):
    """S9: a name with invalid UTF-8 is refused (in full when padded; when
    short, in full if that fits in 3 times the request, else ERR) and never
    announced."""
    srv, alice, bob = _room(procs)
    ok = {refusal("zh", "name_utf8"), refusal("zh", "malformed")}
    s = procs.udp(srv.port)
    s.send(padded(b"L a" + bad + b"b"))
    got = s.recv_text()
    assert got in ok, "padded L with %s got %r" % (name, got)
    short = b"L a" + bad
    s.send(short)
    want = [[r] if _fits(r, short) else ["ERR"] for r in ok]
    got = _replies_until_ok(s, "s9", [bob])
    assert got in want, "%r got %r, expected one of %r" % (short, got, want)


@pytest.mark.parametrize("name, bad", BAD_UTF8, ids=[b[0] for b in BAD_UTF8])
def test_s9_invalid_utf8_in_text(procs, name, bad):
    """S9: a member's text with invalid UTF-8 (inside or at the end) is refused
    with the reason and never relayed."""
    srv, alice, bob = _room(procs)
    ok = {refusal("zh", "text_utf8"), refusal("zh", "malformed")}
    for payload in (b"C alice hi " + bad + b" there", b"C alice " + bad, b"C alice end" + bad):
        alice.send(payload)
        got = alice.recv_text()
        assert got in ok, "%r got %r" % (payload, got)
    alice.send(b"C al" + bad + b"ice hi")
    _barrier(alice, [bob], "clean")


# ---------------------------------------------------------------------------
# S11: framing injection.

FRAMING = [
    ("LF", "one\nalice 说：two"), ("CR", "one\rtwo"), ("CRLF inside", "one\r\ntwo"),
    ("NUL", "one\x00two"), ("ESC", "\x1b[31mred\x1b[0m"), ("BEL", "ding\x07"),
    ("TAB", "a\tb"), ("DEL", "a\x7fb"), ("RLO", "abc\u202edef"), ("LRI", "x\u2066y"),
    ("C1 NEL", "a\u0085b"), ("C1 CSI", "a\u009b31mb"), ("two LF", "hi\n\n"), ("lone CR end", "hi\r"),
    ("forged second request", "hi\nC bob forged"),
]


@pytest.mark.parametrize("name, text", FRAMING, ids=[f[0] for f in FRAMING])
def test_s11_control_in_text_refused(procs, name, text):
    """S11: text with CR, LF, NUL, ESC, other C0/C1 or bidi controls from a
    member is refused with the reason; nothing is relayed, no second line
    appears, and nobody is shown as having said it."""
    srv, alice, bob = _room(procs)
    carol = procs.member(srv, "carol")
    bob.wait_for(ev("zh", "join", "carol"))
    alice.wait_for(ev("zh", "join", "carol"))
    alice.send("C alice " + text)
    alice.expect(refusal("zh", "text_control"))
    _barrier(alice, [bob, carol], "after")


def test_s11_control_refusal_en(procs):
    """The English refusal for a control character is the documented text."""
    srv, alice, bob = _room(procs, "en")
    alice.send("C alice a\x1bb")
    alice.expect(refusal("en", "text_control"))
    _barrier(alice, [bob], "after", "en")


# ---------------------------------------------------------------------------
# S12: name tricks.

NAME_TRICKS = [
    ("empty", "", {"name_empty", "malformed"}),
    ("space inside", "al ice", {"name_space"}),
    ("NBSP", "al\u00a0ice", {"name_space"}),
    ("ideographic space", "张\u3000三", {"name_space"}),
    ("en quad", "al\u2000ice", {"name_space"}),
    ("TAB", "al\tice", {"name_control"}),
    ("ESC", "al\x1bice", {"name_control"}),
    ("DEL", "al\x7fice", {"name_control"}),
    ("C1", "al\u0085ice", {"name_control"}),
    ("RLO", "al\u202eice", {"name_control"}),
    ("zero width space", "al\u200bice", {"name_control"}),
    ("zero width joiner", "al\u200dice", {"name_control"}),
    ("soft hyphen", "al\u00adice", {"name_control"}),
    ("BOM", "\ufeffalice2", {"name_control"}),
    ("33 bytes", "a" * 33, {"name_long"}),
    ("11 CJK", "中" * 11, {"name_long"}),
    ("管理员", "管理员", {"reserved"}),
    ("管理", "管理", {"reserved"}),
    ("系统", "系统", {"reserved"}),
    ("服务器", "服务器", {"reserved"}),
    ("admin", "admin", {"reserved"}),
    ("ADMIN", "ADMIN", {"reserved"}),
    ("fullwidth admin", "ａｄｍｉｎ", {"reserved"}),
    ("Administrator", "Administrator", {"reserved"}),
    ("server", "server", {"reserved"}),
    ("root", "root", {"reserved"}),
    ("qund", "QUND", {"reserved"}),
    ("Alice", "Alice", {"taken"}),
]


@pytest.mark.parametrize("name, trick, reasons", NAME_TRICKS, ids=[n[0] for n in NAME_TRICKS])
def test_s12_name_refused(procs, name, trick, reasons):
    """S12: each bad name is refused with its documented reason and announced to nobody."""
    srv, alice, bob = _room(procs)
    s = procs.udp(srv.port)
    s.send(padded("L " + trick))
    got = s.recv_text()
    want = {refusal("zh", r) for r in reasons}
    assert got in want, "L %r got %r, expected one of %r" % (trick, got, want)
    assert _replies_until_ok(s, "s12", [bob]) == []


@pytest.mark.parametrize("good", ["a" * 32, "中" * 10 + "ab", "Zoë", "李白", "a-b_c.d", "👩‍👩‍👧"[:1]])
def test_s12_valid_names_accepted(procs, good):
    """Positive control: names at the limits (32 bytes, 10 CJK + 2) and
    ordinary non-ASCII names are accepted and announced exactly."""
    srv, alice, bob = _room(procs)
    procs.member(srv, good)
    bob.expect(ev("zh", "join", good))


def test_s12_alice_and_Alice_same_name_either_order(procs):
    """`Alice` then `alice`: the second is taken, whichever case came first."""
    srv = procs.qund1(lang="en")
    procs.member(srv, "Alice")
    s = procs.udp(srv.port)
    s.send(padded("L alice"))
    s.expect(refusal("en", "taken"))


# ---------------------------------------------------------------------------
# S13: nobody on the network can pose as the operator.

def _fold(s):
    """s as a reader sees it: invisible characters dropped, spaces unified,
    fullwidth ASCII mapped to ASCII, lower case."""
    out = []
    for ch in s:
        cp = ord(ch)
        cat = unicodedata.category(ch)
        if cat == "Cf" or 0xFE00 <= cp <= 0xFE0F or cp in (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0) \
                or 0xE0000 <= cp <= 0xE0FFF:
            continue
        if cat == "Zs":
            ch = " "
        elif 0xFF01 <= cp <= 0xFF5E:
            ch = chr(cp - 0xFEE0)
        out.append(ch.lower())
    return "".join(out)


def _looks_like_operator(line, lang):
    prefix = "管理员 说：" if lang == "zh" else "[admin]"
    return _fold(line).startswith(_fold(prefix))


S13_NAMES = {
    "zh": ["管理员", "管理员 说：x", "管理员\u00a0说：x", "管理员\u3000说：x", "管理员\u2000",
           "管理员\u200b", "管理员:", "[admin]", "admin"],
    "en": ["[admin]", "[admin]x", "[ADMIN]", "［ａｄｍｉｎ］", "[admin]\u200b", "admin", "[admin]:"],
}
S13_TEXTS = ["\n管理员 说：pwned", "\r[admin] pwned", "x\x00管理员 说：pwned",
             "\u202e管理员 说：pwned", "\x1b[2K\r[admin] pwned", " \n[admin] pwned"]


def _s13_attack(procs, lang, names):
    srv, alice, bob = _room(procs, lang)
    attackers = []
    for i, nm in enumerate(names):
        s = procs.udp(srv.port)
        s.send(padded("L " + nm))
        s.send("C %s hello" % nm)
        s.send("C %s %s" % (nm, "x"))
        s.send("Q " + nm)
        attackers.append(s)
    for t in S13_TEXTS:
        alice.send("C alice " + t)
    # Barrier: all the datagrams above reached qund's socket before this one.
    alice.send("C alice barrier")
    seen = bob.wait_for(ev(lang, "say", "alice", "barrier"))
    posed = [l for l in seen if _looks_like_operator(l, lang)]
    assert posed == [], "lines posing as the operator reached bob: %r" % posed
    # Positive control of the detector: the real operator is recognised.
    srv.say("real")
    real = bob.wait_for(ev(lang, "admin", "real"))
    assert _looks_like_operator(ev(lang, "admin", "real"), lang)
    assert not [l for l in real if _looks_like_operator(l, lang)], real


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_s13_no_operator_impersonation(procs, lang):
    """S13: no name or text from the network produces a line that reads as
    the operator's speech (`管理员 说：`, `[admin]`) at another client."""
    _s13_attack(procs, lang, S13_NAMES[lang])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_s13_invisible_suffix_names(procs, lang):
    """S13: a reserved name with an invisible code point appended (variation
    selector, combining grapheme joiner, Hangul filler, tag character)
    still cannot pose as the operator."""
    base = "管理员" if lang == "zh" else "[admin]"
    names = [base + "\ufe0f", base + "\u034f", base + "\u3164", base + "\U000e0041"]
    _s13_attack(procs, lang, names)


# ---------------------------------------------------------------------------
# No amplification.

# (request, what a non-member gets for it) in a room where 李, alice, abc and
# abcd are members and the name "evil" is banned: a reason key (the reason
# in full when it fits in 3 times the request, else ERR), None for "some
# refusal or ERR", or "none" for no answer at all.
AMP_CASES = [(r.encode() if isinstance(r, str) else r, k) for r, k in [
    ("L 李", "taken"), ("L alice", "taken"), ("L ALICE", "taken"), ("L 李\n", "taken"),
    # 18 bytes of reason in either language: fits 3 x 6 exactly, not 3 x 5.
    ("L abcd", "taken"), ("L abc", "taken"),
    ("L admin", "reserved"), ("L root", "reserved"), ("L 管理员", "reserved"),
    ("L a b", "name_space"), ("L li si", "name_space"),
    ("L a\tb", "name_control"), ("L x\u200b", "name_control"), ("L bob\u200b", "name_control"),
    ("L " + "a" * 33, "name_long"), ("L " + "a" * 40, "name_long"),
    (b"L \xd0\xa1\xc3\xf7", "name_utf8"),  # 小明 in GBK
    ("L evil", "banned"), ("L EVIL" + " " * 4, "banned"),
    ("L", None), ("L ", None), ("LX", None), (b"L \xff", None), (b"L \xc0\xaf", None),
    ("C alice hi", "none"), ("C nobody hi", "none"), ("Q alice", "none"), ("P alice", "none"),
    ("W alice", "none"), ("W alice 2", "none"), ("A alice waves", "none"), ("W", "none"),
    ("C", "none"), ("Z", "none"), ("C alice " + "x" * 1193, "none")]]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_amplification(procs, lang):
    """No answer to an address that is not a member is ever more than 3 times
    the bytes of the request it answers (RFC 9000's anti-amplification
    limit): a refusal goes in full when it fits, else ERR; a stranger's C,
    Q, P, W and A get nothing.  Padded, the same L gets the full reason."""
    srv = procs.qund1(lang=lang)
    for name in ("李", "alice", "abc", "abcd"):
        procs.member(srv, name)
    mark = srv.out.mark()
    srv.say("/ban evil")
    assert srv.out.wait_for(lambda l: "evil" in l, start=mark), "/ban evil not confirmed"
    for i, (data, key) in enumerate(AMP_CASES):
        s = procs.udp(srv.port)
        s.send(data)
        replies = _replies_until_ok(s, "amp%d" % i)
        answer = s.received[:-1]  # raw, all but the OK
        assert sum(len(d) for d in answer) <= AMPLIFY * len(data), \
            "%r (%d bytes) got %r" % (data, len(data), answer)
        assert len(replies) <= 1, "%r got %r" % (data, replies)
        assert all(r in all_refusals(lang) for r in replies), "%r got %r" % (data, replies)
        if key == "none":
            assert replies == [], "%r from a stranger got %r" % (data, replies)
        elif key is not None:
            reason = refusal(lang, key)
            want = [reason] if _fits(reason, data) else ["ERR"]
            assert replies == want, "%r got %r, expected %r" % (data, replies, want)
            if not data.endswith(b"\n"):  # (spaces after the newline would join the name)
                # Padded, the same request gets the full reason.
                s2 = procs.udp(srv.port)
                s2.send(padded(data, 1200))
                s2.expect(reason)
        else:
            assert len(replies) == 1, "%r got %r" % (data, replies)


def test_no_amplification_raw_lengths(procs):
    """The raw datagram (not just its text) of a short refusal fits in 3 times
    the request: `L 李` (5 bytes) with 李 taken gets at most 15 bytes back."""
    srv = procs.qund1(lang="zh")
    procs.member(srv, "李")
    s = procs.udp(srv.port)
    s.send("L 李")
    s.send(padded("L 李"))
    assert s.wait_for(refusal("zh", "taken")) == ["ERR"]
    assert len(s.received) == 2
    assert len(s.received[0]) <= 15, s.received[0]


def test_padded_login_gets_full_reason(procs):
    """`L 李` padded with spaces to 200 bytes gets the full reason `名字已被占用`."""
    srv = procs.qund1(lang="zh")
    procs.member(srv, "李")
    s = procs.udp(srv.port)
    s.send(padded("L 李", 200))
    s.expect("名字已被占用")
    s.send(padded("L 李", 1200))
    s.expect("名字已被占用")
    s.send(padded("L 李", 1201))
    s.send("L 李白")
    s.expect("OK")


# ---------------------------------------------------------------------------
# S21: look-alike names (issue 17, item 4).  Uniqueness and the reserved names
# are decided on the confusable skeleton of Unicode TR39 (ICU), after NFKC.

S21_LOOKALIKE = {"zh": "名字形似他人", "en": "look-alike name"}
S21_MUTED = {"zh": "你已被禁言", "en": "you are muted"}
E_BANNED, E_MUTED = 10, 11
NAME_RESERVED, NAME_LOOKALIKE = 6, 7  # REFUSE details of code 2 (enum name_status)

# (id, look-alike, the online name it imitates)
S21_ONLINE = [
    ("cyrillic-a", "\u0430lice", "alice"),
    ("cyrillic-ie", "alic\u0435", "alice"),
    ("greek-omicron", "b\u03bfb", "bob"),
    ("small-capitals", "\u1d00\u029f\u026a\u1d04\u1d07", "alice"),  # ᴀʟɪᴄᴇ
    ("math-bold", "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e", "alice"),  # 𝐚𝐥𝐢𝐜𝐞
]
S21_RESERVED = [
    ("cyrillic-a-admin", "\u0430dmin"),
    ("mai-for-li", "管埋员"),  # 埋 (bury) for 理
]
# Neither ICU's confusables (TR39 data, ICU 72) nor NFKC maps these: the
# small capitals ᴀ ʟ ᴇ, and 埋 to 理.  qun does not add tables of its own
# (docs/PROTOCOL.md, "Names"); strict, so a newer ICU that catches them shows.
S21_ICU_MISSES = {"small-capitals", "mai-for-li"}


def _s21_params(cases):
    return [pytest.param(*c, id=c[0], marks=pytest.mark.xfail(
        strict=True, reason="ICU's TR39 data does not map it")) if c[0] in S21_ICU_MISSES
        else pytest.param(*c, id=c[0]) for c in cases]


@pytest.fixture
def v2s():
    """V2Clients for one test, closed at its end; none may have received anything malformed."""
    cs = ClientSet()
    yield cs
    errs = cs.close_all()
    assert not errs, "malformed datagrams from qund: %r" % errs


def _s21_room(procs, v2s, lang):
    """A --legacy qund with alice on v2 and bob on v1 (bob sees alice's events)."""
    srv = procs.qund1(lang=lang)
    alice = v2s.login("alice", ("127.0.0.1", srv.port))
    bob = procs.member(srv, "bob")
    alice.wait_event(EV_JOIN, "bob")
    return srv, alice, bob


def _s21_login(srv, v2s, proto, name):
    """Log name in over proto; return (reason text, REFUSE detail or None), or ("OK", None)."""
    if proto == "v1":
        s = Udp(srv.port)
        s.send(padded("L " + name))
        got = s.recv_text()
        s.close()
        return got, None
    c = v2s.new(("127.0.0.1", srv.port), label="s21")
    c.start_login(name)
    assert c.wait(lambda: c.hs_state in ("up", "refused"), 5.0), "no WELCOME or REFUSE"
    if c.hs_state == "up":
        return "OK", None
    return c.refuse.reason, (c.refuse.code, c.refuse.detail)


@pytest.mark.parametrize("proto", ["v1", "v2"])
@pytest.mark.parametrize("tid, name, victim", _s21_params(S21_ONLINE))
def test_s21_lookalike_of_online_name_refused(procs, v2s, proto, tid, name, victim):
    """S21: while alice and bob are online, each look-alike of their names is
    refused over v1 and v2 with the look-alike reason (v2: code 2, detail 7),
    nobody is told anything, and the victims still talk."""
    srv, alice, bob = _s21_room(procs, v2s, "zh")
    got, code = _s21_login(srv, v2s, proto, name)
    assert got == S21_LOOKALIKE["zh"], "L %r (%s) got %r" % (name, proto, got)
    if proto == "v2":
        assert code == (E_NAME_INVALID, NAME_LOOKALIKE), code
    # Barrier: nothing reached bob before the next join, and alice still speaks.
    assert _replies_until_ok(procs.udp(srv.port), "s21", [bob]) == []
    alice.say("still alice")
    assert bob.wait_for(ev("zh", "say", "alice", "still alice")) == []
    assert sorted(n for n, _ in srv.who()) == ["alice", "bob", "s21"]


@pytest.mark.parametrize("proto", ["v1", "v2"])
@pytest.mark.parametrize("tid, name", _s21_params(S21_RESERVED))
def test_s21_lookalike_of_reserved_name_refused(procs, v2s, proto, tid, name):
    """S21: a look-alike of a reserved name (аdmin with a Cyrillic а) is
    refused as reserved over v1 and v2, and announced to nobody."""
    srv, alice, bob = _s21_room(procs, v2s, "zh")
    got, code = _s21_login(srv, v2s, proto, name)
    assert got == refusal("zh", "reserved"), "L %r (%s) got %r" % (name, proto, got)
    if proto == "v2":
        assert code == (E_NAME_INVALID, NAME_RESERVED), code
    assert _replies_until_ok(procs.udp(srv.port), "s21", [bob]) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_s21_lookalike_reason_fits_v1_login(procs, v2s, lang):
    """The look-alike reason reaches the lesson's client in full for an
    unpadded `L аlice` (8 bytes: 3 x 8 = 24 bytes allowed); `L ο` (Greek
    omicron, 4 bytes, while o is online) gets ERR within the 3x rule, and
    the full reason once padded."""
    srv, alice, bob = _s21_room(procs, v2s, lang)
    procs.member(srv, "o")
    s = procs.udp(srv.port)
    s.send("L \u0430lice")
    assert s.recv_text() == S21_LOOKALIKE[lang]
    s.send("L \u03bf")
    assert s.recv_text() == "ERR"
    assert len(s.received[-1]) <= 3 * 4
    s.send(padded("L \u03bf"))
    assert s.recv_text() == S21_LOOKALIKE[lang]


@pytest.mark.parametrize("proto", ["v1", "v2"])
def test_s21_ban_by_name_holds_against_lookalike(procs, v2s, proto):
    """S21: the operator's ban on alice also keeps аlice (Cyrillic а) out,
    over v1 (the banned reason) and v2 (REFUSE code 10)."""
    srv = procs.qund1(lang="zh")
    bob = procs.member(srv, "bob")
    mark = srv.out.mark()
    srv.say("/ban alice")
    assert srv.out.wait_for(lambda l: "alice" in l, start=mark), "/ban alice not confirmed"
    got, code = _s21_login(srv, v2s, proto, "\u0430lice")
    assert got == refusal("zh", "banned"), got
    if proto == "v2":
        assert code[0] == E_BANNED, code
    assert _replies_until_ok(procs.udp(srv.port), "s21", [bob]) == []


def test_s21_mute_by_name_holds_against_lookalike(procs):
    """S21: muted as alice, a member that comes back as аlice is still muted:
    its chat is refused to it and reaches nobody."""
    srv = procs.qund1(lang="zh")
    bob = procs.member(srv, "bob")
    mark = srv.out.mark()
    srv.say("/mute alice")
    assert srv.out.wait_for(lambda l: "alice" in l, start=mark), "/mute alice not confirmed"
    evil = procs.member(srv, "\u0430lice")
    assert bob.wait_for(ev("zh", "join", "\u0430lice")) == []
    evil.send("C \u0430lice I am alice")
    evil.expect(S21_MUTED["zh"])
    # Barrier: the next join reaches bob with nothing before it.
    assert _replies_until_ok(procs.udp(srv.port), "s21", [bob]) == []


def test_s21_kick_by_name_reaches_lookalike(procs):
    """S21: with аlice online (and no alice), the operator's `/kick alice`
    removes аlice: she gets EXIT and the room is told her real name."""
    srv = procs.qund1(lang="zh")
    bob = procs.member(srv, "bob")
    evil = procs.member(srv, "\u0430lice")
    assert bob.wait_for(ev("zh", "join", "\u0430lice")) == []
    srv.say("/kick alice")
    evil.expect("EXIT")
    assert bob.wait_for(ev("zh", "kick", "\u0430lice")) == []
    assert [n for n, _ in srv.who()] == ["bob"]


def test_s21_different_names_still_accepted(procs, v2s):
    """Positive control: names that only share letters with a member's, and
    a name wholly in another script, are accepted while alice is online."""
    srv, alice, bob = _s21_room(procs, v2s, "zh")
    for good in ("alicia", "alice2", "\u0430\u043b\u0438\u0441\u0430", "小alice", "Zoë"):
        procs.member(srv, good)
        assert bob.wait_for(ev("zh", "join", good)) == []

