import cron from 'node-cron';

/**
 * What runs by the clock: time-driven rules every `tickMs` (durations and deadlines that pass with
 * no reading, silent devices), the escalation and silence sweep every 10 s, the daily summary at
 * 08:00 China Standard Time, the monthly report on the 25th at 09:00, retention (old readings and notifications) at 03:00, the audit head
 * to the uplinks every minute. Tests leave it off and drive each job themselves.
 */
export interface ScheduledJobs {
  tick(): void;
  sweep(): Promise<void>;
  dailySummaries(): Promise<void>;
  monthlyReports(): Promise<void>;
  retention(): Promise<void>;
  auditHead(): Promise<void>;
  onError(job: string, err: Error): void;
}

export function startSchedule(jobs: ScheduledJobs, opts: { tickMs: number; cron: boolean }): { stop(): void } {
  const ticker = opts.tickMs > 0 ? setInterval(() => jobs.tick(), opts.tickMs) : undefined;
  ticker?.unref();
  const tasks = opts.cron
    ? [
        cron.schedule('*/10 * * * * *', () => void jobs.sweep().catch((err: Error) => jobs.onError('sweep', err)), { noOverlap: true }),
        cron.schedule('0 0 8 * * *', () => void jobs.dailySummaries().catch((err: Error) => jobs.onError('daily-summary', err)), { timezone: 'Asia/Shanghai' }),
        cron.schedule('0 0 9 25 * *', () => void jobs.monthlyReports().catch((err: Error) => jobs.onError('monthly-report', err)), { timezone: 'Asia/Shanghai' }),
        cron.schedule('0 * * * * *', () => void jobs.auditHead().catch((err: Error) => jobs.onError('audit-head', err)), { noOverlap: true }),
        cron.schedule('0 0 3 * * *', () => void jobs.retention().catch((err: Error) => jobs.onError('retention', err)), { timezone: 'Asia/Shanghai', noOverlap: true }),
      ]
    : [];
  return {
    stop() {
      clearInterval(ticker);
      for (const t of tasks) void t.stop();
    },
  };
}
