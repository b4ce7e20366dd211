"""What both board implementations share: their errors and the entropy gate."""


class EntropyNotReady(Exception):
    """Keys were requested before the radio was up (the ESP32 RNG is not yet a true RNG)."""


class NetworkDown(Exception):
    """The network did not come up within the allowed time."""


class WatchdogExpired(Exception):
    """Raised by the unix watchdog stand-in's feed() after it already fired."""


class BoardBase:
    """State and checks common to every board: the radio flag and the entropy gate."""

    name = "base"

    def __init__(self, config):
        self.config = config
        self.radio_up = False
        self.status_name = None

    def require_entropy(self):
        """Raise EntropyNotReady unless ``network_up()`` has completed. Call it before
        generating any key: on an ESP32 os.urandom is a true RNG only while the radio is on
        (ESP-IDF, "Random Number Generation")."""
        if not self.radio_up:
            raise EntropyNotReady("radio is not up: the RNG may not be used yet")

    def random_bytes(self, length):
        """Key material from groupkey.crypto.rng, only after the entropy gate."""
        self.require_entropy()
        from groupkey.crypto.rng import random_bytes

        return random_bytes(length)
