CREATE INDEX `jobs_state_id` ON `jobs` (`state`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_owner_id` ON `jobs` (`owner`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_type_id` ON `jobs` (`type`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_lifecycle_id` ON `jobs` (`lifecycle`,`id`);--> statement-breakpoint
CREATE INDEX `jobs_lifecycle_state_id` ON `jobs` (`lifecycle`,`state`,`id`);