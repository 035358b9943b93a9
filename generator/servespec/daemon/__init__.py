"""A warm render server per repo (``servespec daemon``), as compilers keep one (dmypy, the Gradle
daemon, Bazel's server): a fresh ``servespec`` process spends about half a second importing
pydantic, the spec model, click and the emitters before any work; a process that stays warm
does not, and keeps what the library memoizes in memory for the next command.

- ``locate.py``: where a repo's daemon listens and which daemon a command line goes to
  (standard library only: the CLI asks it on every command);
- ``wire.py``: the messages between client and server, and the peer check;
- ``client.py``: forwarding one command (argv, cwd, environment, umask, fds 0/1/2);
- ``server.py`` (+ ``request.py``: one request in the client's process state): the server;
- ``control.py``: ``start``, ``stop`` and ``status`` for ``servespec daemon``;
- ``__main__.py``: the server process (``python -m servespec.daemon``), started by ``control.start``.
"""
