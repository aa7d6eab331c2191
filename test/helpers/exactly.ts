// An error message as a RegExp for t.throws/t.match: the whole message, nothing more, its
// special characters taken literally.
export const exactly = (message: string): RegExp => new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`)
