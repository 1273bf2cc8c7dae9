# test_hygiene.py - after every way qun and qund can end: no zombie, no orphan, the port free again.
"""Process hygiene, checked from /proc.

The test process is a child subreaper while these run (see conftest.py), so
a process whose parent died first is re-parented to us: wait_gone() reports
it as orphaned.  On a graceful exit the parent must have reaped its child
itself (not orphaned); after a SIGKILL of one half, the other half must end
on its own within a couple of seconds.

qun runs on pipes in a session of its own, not on a terminal: on a terminal
the kernel's SIGHUP to the session would kill a leftover child for it and
hide the bug.  Ctrl-C is a SIGINT to qun's process group, as a terminal
sends it; Ctrl-D is the end of stdin."""

import os
import signal

import pytest

from conftest import (WAIT, children, ev, proc_state, pty_qun, assert_port_free, wait_gone,
                      wait_until)

PARTNER_DEADLINE = 3.0  # "the other ends too within a couple of seconds"


def _client(procs, srv, proto, name="alice"):
    """qun on pipes, logged in to srv; returns (qun, its child's pid, bob)."""
    bob = procs.member(srv, "bob")
    q = procs.qun_pipe("-s", "127.0.0.1", "-p", str(srv.port), "--lang", srv.lang, *proto, name)
    bob.expect(ev(srv.lang, "join", name))
    child = q.child()
    assert proc_state(child) not in (None, "Z")
    return q, child, bob


def _assert_clean_end(q, child, rc_expected):
    """qun exited with rc_expected and reaped its child itself."""
    rc = q.wait(WAIT)
    assert rc is not None, "qun still running"
    assert rc == rc_expected, "qun exited %s, expected %s" % (rc, rc_expected)
    g = wait_gone(child, PARTNER_DEADLINE)
    assert g.gone, "qun's child %d still there after the parent exited: %r" % (child, g)
    assert not g.orphaned, "qun exited without reaping its child (%r)" % g


@pytest.mark.parametrize("how", ["/quit", "quit", "ctrl-c", "ctrl-d"])
def test_client_leaves(qund, procs, proto, how):
    """Leaving by /quit, quit, Ctrl-C or Ctrl-D: exit 0, the child reaped by
    qun, nothing left behind."""
    q, child, bob = _client(procs, qund, proto)
    if how == "ctrl-c":
        os.killpg(q.pid, signal.SIGINT)
    elif how == "ctrl-d":
        q.close_stdin()
    else:
        q.send_line(how)
    bob.expect(ev("zh", "leave", "alice"))
    _assert_clean_end(q, child, 0)


@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-d"])
def test_client_leaves_on_terminal(qund, procs, proto, how):
    """The same on a real terminal: after Ctrl-C or Ctrl-D both qun
    processes are gone and the child was reaped by its parent."""
    bob = procs.member(qund, "bob")
    q = pty_qun(procs, qund.port, *proto, "alice")
    bob.expect(ev("zh", "join", "alice"))
    kids = wait_until(lambda: children(q.pid))
    assert len(kids) == 1, kids
    child = next(iter(kids))
    if how == "ctrl-c":
        q.sendintr()
    else:
        q.sendeof()
    bob.expect(ev("zh", "leave", "alice"))
    assert q.exit_status() == 0
    g = wait_gone(child, PARTNER_DEADLINE)
    assert g.gone and not g.orphaned, g


def test_client_kicked(qund, procs, proto):
    """Kicked (EXIT unasked): exit 0 and the child reaped."""
    q, child, bob = _client(procs, qund, proto)
    qund.say("/kick alice")
    bob.expect(ev("zh", "kick", "alice"))
    _assert_clean_end(q, child, 0)


def test_client_server_shutdown(qund, procs, proto):
    """The server shuts down: qun exits 0 with its child reaped, qund exits 0."""
    q, child, bob = _client(procs, qund, proto)
    qund.signal(signal.SIGTERM)
    assert q.out.wait_for("服务器即将关闭"), q.out.lines
    _assert_clean_end(q, child, 0)
    assert qund.wait() == 0


def test_client_parent_killed(qund, procs, proto):
    """SIGKILL of the qun parent: the child ends on its own within a couple
    of seconds, saying goodbye on its way out (the room sees the leave)."""
    q, child, bob = _client(procs, qund, proto)
    # First prove the child is up and in its receive loop (a line it printed),
    # so the kill does not land in the instant just after fork().
    bob.send("C bob ready?")
    assert q.out.wait_for(ev("zh", "say", "bob", "ready?")), q.out.lines
    os.kill(q.pid, signal.SIGKILL)
    assert q.proc.wait(WAIT) == -signal.SIGKILL  # the parent alone: the child is watched below
    g = wait_gone(child, PARTNER_DEADLINE)
    assert g.gone, "qun's child %d still running %.0f s after its parent died: %r" % (
        child, PARTNER_DEADLINE, g)
    assert bob.wait_for(ev("zh", "leave", "alice")) == []


def test_client_child_killed(qund, procs, proto):
    """SIGKILL of the qun child: the parent notices, reaps it and exits 1."""
    q, child, bob = _client(procs, qund, proto)
    os.kill(child, signal.SIGKILL)
    rc = q.wait(PARTNER_DEADLINE)
    assert rc is not None, "qun still running %.0f s after its child died" % PARTNER_DEADLINE
    assert rc == 1, "qun exited %s after its child died, expected 1" % rc
    g = wait_gone(child, 1)
    assert g.gone and not g.orphaned, "the killed child was not reaped by qun: %r" % g


# ---------------------------------------------------------------------------
# The server.

@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "/quit"])
def test_server_stops(qund, procs, how):
    """qund stopped by SIGTERM, SIGINT or /quit: exit 0, the console child
    reaped by qund, the UDP port free."""
    alice = procs.member(qund, "alice")
    console = qund.console_child()
    if how == "/quit":
        qund.say("/quit")
    else:
        qund.signal(getattr(signal, how))
    alice.wait_for("EXIT")
    assert qund.wait() == 0
    g = wait_gone(console, PARTNER_DEADLINE)
    assert g.gone and not g.orphaned, "console child: %r" % g
    assert_port_free(qund.port)


def test_server_killed(qund, procs):
    """SIGKILL of qund: the console child dies too and the port is freed."""
    procs.member(qund, "alice")
    console = qund.console_child()
    os.kill(qund.pid, signal.SIGKILL)
    assert qund.wait() == -signal.SIGKILL
    g = wait_gone(console, PARTNER_DEADLINE)
    assert g.gone, "console child %d outlived qund by %.0f s: %r" % (console, PARTNER_DEADLINE, g)
    assert_port_free(qund.port)


def test_console_child_killed(qund, procs):
    """SIGKILL of the console child: qund reaps it and keeps serving."""
    console = qund.console_child()
    os.kill(console, signal.SIGKILL)
    assert wait_until(lambda: not children(qund.pid)), \
        "qund did not reap its killed console child: children %s, state %s" % (
            children(qund.pid), proc_state(console))
    g = wait_gone(console, 1)
    assert g.gone and not g.orphaned, g
    assert qund.running()
    alice = procs.member(qund, "alice")
    bob = procs.member(qund, "bob")
    alice.expect(ev("zh", "join", "bob"))
    bob.send("C bob 还活着")
    alice.expect(ev("zh", "say", "bob", "还活着"))
    qund.signal(signal.SIGTERM)
    assert qund.wait() == 0
    assert_port_free(qund.port)


def test_stdin_eof_then_stop(qund, procs):
    """stdin closed (console child gone), then SIGTERM: exit 0, nothing left."""
    console = qund.console_child()
    qund.close_stdin()
    g = wait_gone(console, WAIT)
    assert g.gone and not g.orphaned, g
    alice = procs.member(qund, "alice")
    qund.signal(signal.SIGTERM)
    alice.wait_for("EXIT")
    assert qund.wait() == 0
    assert_port_free(qund.port)
