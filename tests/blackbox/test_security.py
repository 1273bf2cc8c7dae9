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


# ---------------------------------------------------------------------------
# S5 and S1 for v1 (issue 17, item 6): v1 cannot tell a forged source from a
# real one, so --legacy contains it: a cap on v1 members, a rate of v1 logins
# per /24 (IPv6 /64) and in total, a short leash for members that never sent
# P, C or A, and a warning at start.  Forged sources come from raw sockets in
# a network namespace of the test's own (netns.py; skipped without root).

import os as _os  # noqa: E402 - this section's own imports
import random as _random  # noqa: E402
import threading as _threading  # noqa: E402
import time as _time  # noqa: E402

import netns as _netns  # noqa: E402
import v2client as _v2  # noqa: E402

_V1_SEED = int(_os.environ.get("QUN_SEED") or int.from_bytes(_os.urandom(4), "big"))
_V1_BUSY = {"zh": "v1 繁忙，请稍后", "en": "v1 busy; try later"}
QUIET_V1 = 0.5  # seconds for qund to finish the datagrams already sent
WAIT_V1 = 10.0


def _v1_rng(tag):
    print("%s: seed %d (replay with QUN_SEED=%d)" % (tag, _V1_SEED, _V1_SEED))
    return _random.Random("%s-%d" % (tag, _V1_SEED))


@pytest.fixture
def v1ns(procs):
    """A network namespace and the v2 clients of one test (skips without root)."""
    n = _netns.Netns("v1")
    cs = _v2.ClientSet()
    yield n, cs
    errs = cs.close_all()
    n.close()
    assert not errs, "malformed datagrams from qund: %r" % errs


def _members(q, prefix):
    return [n for n, _ in q.who() if n.startswith(prefix)]


@pytest.mark.parametrize("args, cap", [((), 64), (("--max-v1", "1000"), None)],
                         ids=["v1-cap", "total-rate"])
def test_s5_v1_forged_login_flood(procs, v1ns, args, cap):
    """S5 for v1: forged `L ghostN` from random sources (random /24s of
    127/8, random ports) as fast as a raw socket sends them, for 1.5 s,
    against qund --legacy with its defaults (issue 17 filled a room with
    1,100 in 0.02 s).  With the v1 cap of 64 at most 64 ghosts get in; with
    the cap raised out of the way, no more than the total v1 login rate (128
    at once, then 16 a second).  A v2 client logs in within 2 s during the
    flood, and the v2 observer is told of no more joins than got in."""
    ns, cs = v1ns
    q = _netns.in_namespace(ns, procs, "qund", "--legacy", *args, lang="en")
    server = ("127.0.0.1", q.port)
    obs = cs.new(server, sock=ns.udp(), label="obs")
    obs.login("obs")
    f = _netns.Forger(ns)
    r = _v1_rng("s5-v1")
    sent = [0]
    t0 = _time.monotonic()
    times = []

    def flood():
        while _time.monotonic() - t0 < 1.5:
            src = ("127.%d.%d.%d" % (r.randrange(1, 255), r.randrange(0, 255),
                                     r.randrange(1, 255)), r.randrange(1024, 65535))
            f.send(src, server, b"L ghost%d" % sent[0])
            sent[0] += 1
            if sent[0] % 200 == 0:
                _time.sleep(0.001)  # let the login below have the CPU now and then

    th = _threading.Thread(target=flood, daemon=True)
    th.start()
    try:
        _time.sleep(0.3)
        late = cs.new(server, sock=ns.udp(), label="late")
        t = _time.monotonic()
        late.login("late", timeout=2.0)
        times.append(_time.monotonic() - t)
    finally:
        th.join(10)
        f.close()
    flood_s = _time.monotonic() - t0
    _time.sleep(QUIET_V1)
    ghosts = _members(q, "ghost")
    spent = _time.monotonic() - t0  # nobody got in after this: the bound on the rate
    joins = [e for e in obs.events if e.event == _v2.EV_JOIN and e.name.startswith(b"ghost")]
    print("S5 v1 (%s): %d forged logins in %.2f s; %d ghosts got in, obs told of %d joins; "
          "a v2 login took %.3f s" % (" ".join(args) or "defaults", sent[0], flood_s,
                                       len(ghosts), len(joins), times[0]))
    assert sent[0] >= 1100, "the flood was too weak: %d" % sent[0]
    if cap is not None:
        assert len(ghosts) <= cap, "%d forged v1 members, the v1 cap is %d" % (len(ghosts), cap)
    assert len(ghosts) <= 128 + 16 * spent + 1, \
        "%d forged v1 members in %.2f s: more than the v1 login rate" % (len(ghosts), spent)
    assert len(ghosts) >= min(cap or 128, 64), "only %d got in: is the rate refused " \
        "wholesale?" % len(ghosts)
    assert len(joins) == len(ghosts), (len(joins), len(ghosts))
    assert "late" in [n for n, _ in q.who()]
    assert times[0] <= 2.0


def test_s5_v1_login_rate_per_network(procs, v1ns):
    """S5 for v1, one network: 300 forged `L netN` from random hosts and ports
    of one /24 at once get at most 32 members plus 4 a second (the defaults
    of --v1-login-burst and --v1-login-rate); a real v1 client of another
    /24 still logs in at once, and a real one from the flooded /24 is told
    why it was refused (`v1 busy; try later`)."""
    ns, cs = v1ns
    q = _netns.in_namespace(ns, procs, "qund", "--legacy", lang="en")
    server = ("127.0.0.1", q.port)
    f = _netns.Forger(ns)
    r = _v1_rng("s5-v1-net")
    t0 = _time.monotonic()
    try:
        for i in range(300):
            src = ("127.5.6.%d" % r.randrange(1, 255), r.randrange(1024, 65535))
            f.send(src, server, b"L net%d" % i)
    finally:
        f.close()
    # A real member of the flooded /24, at once: refused, and told why (7 bytes, 21 allowed).
    s = ns.udp(("127.5.6.77", 0))
    s.settimeout(5)
    s.sendto(b"L carol", server)
    got = s.recvfrom(2000)[0]
    spent = _time.monotonic() - t0
    assert got.decode() == _V1_BUSY["en"], got
    other = ns.udp(("127.0.0.9", 0))
    other.settimeout(5)
    other.sendto(b"L dave", server)
    assert other.recvfrom(2000)[0] == b"OK"
    n = len(_members(q, "net"))
    print("S5 v1 (one /24): %d of 300 forged logins got in within %.2f s" % (n, spent))
    assert n <= 32 + 4 * spent + 1, "%d in %.2f s from one /24" % (n, spent)
    assert n >= 32, "only %d got in: the burst is 32" % n
    s.close()
    other.close()


def _pinging(members, until, watch, want):
    """Every 0.25 s each of members sends P; return seconds until `watch` got
    `want` (None if not by `until` seconds), and what watch got before."""
    start = _time.monotonic()
    before = []
    while _time.monotonic() - start < until:
        for m in members:
            m.send("P " + m.name)
        got = watch.recv_text(0.25)
        if got == want:
            return _time.monotonic() - start, before
        if got is not None:
            before.append(got)
    return None, before


def test_s5_v1_silent_login_evicted_soon(procs):
    """A v1 member that sent nothing since its L (a forged login looks like
    that) is evicted after --v1-login-timeout (2 s here; 30 by default), not
    after the hour of --idle-timeout; one that pings, and one that spoke (the
    lesson's client never pings), stay."""
    srv = procs.qund1("--v1-login-timeout", "2", "--keepalive-timeout", "4", lang="en")
    keeper = procs.member(srv, "keeper")
    pinger = procs.member(srv, "pinger")
    talker = procs.member(srv, "talker")
    talker.send("C talker hello")
    ghost = procs.member(srv, "ghost")
    start = _time.monotonic()
    took, before = _pinging([keeper, pinger], 5.0, keeper, ev("en", "timeout", "ghost"))
    assert took is not None, "the ghost was never evicted; keeper got %r" % before
    took = _time.monotonic() - start
    assert 1.8 <= took <= 3.5, "evicted %.2f s after its login, expected 2-3 s" % took
    # Past the login timeout twice over: the others are all still there.
    _pinging([keeper, pinger], 2.5, keeper, None)
    assert sorted(n for n, _ in srv.who()) == ["keeper", "pinger", "talker"]
    ghost.send("C ghost late")  # no longer a member: dropped
    keeper.send("C keeper barrier")
    assert talker.wait_for(ev("en", "say", "keeper", "barrier")) == [
        ev("en", "join", "ghost"), ev("en", "timeout", "ghost")]


@pytest.mark.parametrize("lang, phrases", [
    ("en", ["warning", "--legacy", "forge", "speak and quit as that member", "every port",
            "clear text", "--max-v1"]),
    ("zh", ["警告", "--legacy", "伪造", "发言和退出", "所有端口", "明文", "--max-v1"]),
])
def test_legacy_warning(procs, tmp_path, lang, phrases):
    """qund --legacy says at start, on standard error or in its log file, in
    the room's language, what protocol v1 exposes; without --legacy it does not."""
    srv = procs.qund1(lang=lang)
    got = srv.err.wait_for(lambda l: "--legacy" in l, timeout=5)
    assert got is not None, "no warning on stderr: %r" % srv.err.lines
    for p in phrases:
        assert p in got[1], "%r not in the warning: %r" % (p, got[1])
    log = tmp_path / "qund.log"
    logged = procs.qund1("--log", str(log), lang=lang)
    logged.who()  # serving: the warning was written before the first request was read
    lines = [l for l in log.read_text(encoding="utf-8").splitlines() if "--legacy" in l]
    assert len(lines) == 1 and all(p in lines[0] for p in phrases), lines
    plain = procs.qund(lang=lang)
    plain.who()
    _time.sleep(0.2)  # stderr is read on a thread of its own
    assert not [l for l in plain.err.lines if "--legacy" in l], plain.err.lines


def test_s1_v1_spray_is_contained_not_prevented(procs, v1ns):
    """S1 for v1, honestly: `C dave ...` forged from dave's IP with every port
    of Linux's ephemeral range (28,232 datagrams) reaches dave's port once and
    is shown as dave's; nothing prevents that in v1.  What bounds it: the same
    spray at a v2 member's IP shows nothing (v1 from a v2 member's address is
    dropped), no forged datagram is answered, and a forger who learnt dave's
    port from the room gets at most his flood allowance (5 at once, then 2 a
    second) shown."""
    ns, cs = v1ns
    q = _netns.in_namespace(ns, procs, "qund", "--legacy", lang="en")
    server = ("127.0.0.1", q.port)
    obs = cs.new(server, sock=ns.udp(("127.0.0.2", 0)), label="obs")
    obs.login("obs")
    eve = cs.new(server, sock=ns.udp(("127.0.0.1", 0)), label="eve")
    eve.login("eve")
    dave = ns.udp(("127.0.0.1", 0))
    dave.settimeout(5)
    dave.sendto(b"L dave", server)
    assert dave.recvfrom(100)[0] == b"OK"
    obs.wait_event(_v2.EV_JOIN, "dave")
    f = _netns.Forger(ns)
    sweeps = 0
    try:
        # A blind forger sweeps again if it must (a full socket buffer may drop the hit).
        while sweeps < 3 and not obs.said("dave"):
            sweeps += 1
            for port in range(32768, 61000):
                f.send(("127.0.0.1", port), server, b"C dave spray%d" % port)
                f.send(("127.0.0.1", port), server, b"C eve spray%d" % port)
            obs.wait(lambda: obs.said("dave"), 3.0)
        e = obs.wait_event(_v2.EV_SAY, "dave", timeout=WAIT_V1)
        hit = int(e.text[len(b"spray"):])
        assert hit == dave.getsockname()[1], e.text
        # Knowing the port now, 100 more at once: flood control is all that holds them.
        t0 = _time.monotonic()
        for i in range(100):
            f.send(("127.0.0.1", hit), server, b"C dave more%d" % i)
        spent = _time.monotonic() - t0
    finally:
        f.close()
    eve.say("barrier")
    obs.wait_event(_v2.EV_SAY, "eve", "barrier")
    more = [t for t in obs.said("dave") if t.startswith("more")]
    print("S1 v1 spray: %d sweep(s) of %d datagrams, 1 shown as dave; then %d of 100 at his "
          "port in %.2f s" % (sweeps, 2 * (61000 - 32768), len(more), spent))
    assert [t for t in obs.said("dave") if t.startswith("spray")] == ["spray%d" % hit]
    assert obs.said("eve") == ["barrier"], "v1 spoken into a v2 member's address"
    assert len(more) <= 4 + 2 * (spent + 1) + 1, "%d shown in %.2f s" % (len(more), spent)
    dave.close()
