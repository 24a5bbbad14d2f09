CREATE TABLE `job_events` (
	`job_id` integer NOT NULL,
	`seq` integer NOT NULL,
	`at` integer NOT NULL,
	`type` text NOT NULL,
	`payload` text,
	`state_before` text,
	`state_after` text NOT NULL,
	`actor` text,
	PRIMARY KEY(`job_id`, `seq`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`lifecycle` text NOT NULL,
	`lifecycle_version` integer NOT NULL,
	`type` text NOT NULL,
	`state` text NOT NULL,
	`snapshot` text NOT NULL,
	`version` integer NOT NULL,
	`state_version` integer NOT NULL,
	`claimable` integer NOT NULL,
	`running` integer NOT NULL,
	`waiting` integer NOT NULL,
	`outcome` text,
	`owner` text,
	`run_id` text,
	`idempotency_key` text,
	`params` text,
	`result` text,
	`errors` text NOT NULL,
	`question` text,
	`reply` text,
	`inside` text,
	`step` integer,
	`progress_percent` real NOT NULL,
	`progress_message` text,
	`progress_current` real,
	`progress_total` real,
	`cancel_requested` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`ended_at` integer,
	`destruction_at` integer,
	`execution_duration` integer NOT NULL,
	`quote_at` integer,
	`priority` integer NOT NULL,
	`run_after` integer NOT NULL,
	`attempt` integer NOT NULL,
	`lease_id` text,
	`lease_expires_at` integer,
	`worker_id` text
);
--> statement-breakpoint
CREATE INDEX `jobs_claim` ON `jobs` ("priority" DESC,`id`) WHERE "jobs"."claimable" = 1;--> statement-breakpoint
CREATE INDEX `jobs_lease` ON `jobs` (`lease_expires_at`) WHERE "jobs"."running" = 1;--> statement-breakpoint
CREATE INDEX `jobs_created` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_owner_created` ON `jobs` (`owner`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_type_created` ON `jobs` (`type`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_ended` ON `jobs` (`ended_at`) WHERE "jobs"."ended_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_destruction` ON `jobs` (`destruction_at`) WHERE "jobs"."destruction_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_idempotency` ON `jobs` (`type`,`idempotency_key`) WHERE "jobs"."idempotency_key" IS NOT NULL;