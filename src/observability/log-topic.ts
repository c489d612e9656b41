// log_dest topic: each log line published on $SYS/broker/log/<letter> as Mosquitto does (log__vprintf:
// E error, W warning, N notice, I information, M/subscribe and M/unsubscribe; debug lines are not
// published), QoS 2, not retained, with the timestamp prefix when log_timestamp is on.

import type { Broker } from '../broker/broker.js';
import type { LogType } from '../broker/logger.js';
import { timestamped, type LogSink } from './log.js';

const topics: Readonly<Record<LogType, string | undefined>> = {
  error: '$SYS/broker/log/E',
  warning: '$SYS/broker/log/W',
  notice: '$SYS/broker/log/N',
  information: '$SYS/broker/log/I',
  subscribe: '$SYS/broker/log/M/subscribe',
  unsubscribe: '$SYS/broker/log/M/unsubscribe',
  debug: undefined,
};

export class TopicSink implements LogSink {
  private broker: Broker | undefined;
  /** Publishing may log (a dropped message, say): such a line is not published again. */
  private publishing = false;

  /** Lines logged before the broker exists (start-up) go nowhere, as in Mosquitto. */
  attach(broker: Broker): void {
    this.broker = broker;
  }

  write(type: LogType, message: string, stamp: string): void {
    const topic = topics[type];
    if (topic === undefined || this.broker === undefined || this.broker.isClosing || this.publishing) return;
    this.publishing = true;
    try {
      this.broker.publish(topic, timestamped(message, stamp), { qos: 2 });
    } finally {
      this.publishing = false;
    }
  }

  close(): void {
    this.broker = undefined;
  }
}
