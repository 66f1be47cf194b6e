// A bound on the events a worker process holds at once, across its jobs and queues. BullMQ's concurrency
// counts jobs, and a job may carry one event or a hundred: without this bound, a backlog in many queues
// would put WORKER_CONCURRENCY × GROUP_MAX_EVENTS events of each queue in memory at once.
//
// A job takes as many permits as it has events (at most the whole bound, so a job larger than the bound
// still runs, alone) before it decodes them, and gives them back once it is settled. Jobs that wait for
// permits hold only their compressed data. Permits are granted in the order they were asked for, except
// that a held job's ask (items held behind an earlier operation of their person, now free to go) goes
// ahead of the others: the service's one semaphore (util/semaphore.ts) does all of that.

export { Semaphore as ItemPermits } from '../util/semaphore';
