"""Import learn2learn without the unrelated "Gym has been unmaintained" notice.

learn2learn imports ``gym`` for its RL helpers, and gym prints a deprecation notice to stderr
on import. This package never uses gym, so the notice would only confuse users of the CLI.
"""

import contextlib
import io

with contextlib.redirect_stderr(io.StringIO()):
    import learn2learn as l2l

__all__ = ["l2l"]
