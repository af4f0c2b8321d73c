"""Two threads on one instrument never interleave a write of one with the read of the other."""

import sys
import threading

from labctl.config import default_sim_station
from labctl.station import open_station


def test_concurrent_queries_get_their_own_replies():
    # switch threads as often as possible, so an unlocked write/read pair would be split
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _poll_from_two_threads()
    finally:
        sys.setswitchinterval(old)


def _poll_from_two_threads():
    st = open_station(default_sim_station())
    drv = st.shno_source.driver
    errors: list[str] = []

    def poll(query: str, check) -> None:
        for _ in range(300):
            reply = drv.ask(query)
            if not check(reply):
                errors.append(f"{query} -> {reply!r}")

    idn = threading.Thread(target=poll, args=("*IDN?", lambda r: "2450" in r.upper()))
    out = threading.Thread(target=poll, args=(":OUTP?", lambda r: r.strip() in ("0", "1")))
    idn.start()
    out.start()
    idn.join()
    out.join()
    assert errors == []
