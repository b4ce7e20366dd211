"""Exception tree of the firmware MQTT client, rooted in one class.

MQTTError
  ProtocolError     the broker sent something MQTT 3.1.1 does not allow (connection dropped)
  ConnectRefused    CONNACK carried a non-zero return code (``code`` attribute, section 3.2.2.3)
  NotConnected      a QoS 0 publish or a subscribe while the connection is down
  DeliveryTimeout   a QoS 1 publish was not acknowledged within its deadline
  SubscribeRefused  SUBACK returned 0x80 (failure) for the filter
"""


class MQTTError(Exception):
    """Base class of every error raised by the firmware MQTT client."""


class ProtocolError(MQTTError):
    """Malformed or unexpected packet; the connection is dropped and re-established."""


class ConnectRefused(MQTTError):
    """The broker refused the connection (bad credentials, not authorized, ...)."""

    def __init__(self, code):
        super().__init__("connection refused, return code %d" % code)
        self.code = code


class NotConnected(MQTTError):
    """No connection to the broker right now; the caller may retry after reconnection."""


class DeliveryTimeout(MQTTError):
    """A QoS 1 message was not acknowledged in time (it may still arrive as a duplicate)."""


class SubscribeRefused(MQTTError):
    """The broker refused a subscription (SUBACK return code 0x80)."""
